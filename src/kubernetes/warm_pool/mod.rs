//! Warm pools (issue #18): started pods, bound to a sandbox at create. `profile` reads the
//! operator's profiles, `key` says which pod a create needs, `member` renders a member and a
//! bind. Pure; the pool's I/O is the provisioner's.

pub mod key;
pub mod member;
pub mod profile;

#[cfg(test)]
#[path = "warm_pool_tests.rs"]
mod tests;
