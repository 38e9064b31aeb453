//! Warm pools (issue #18): started pods, bound to a sandbox at create. `profile` reads the
//! operator's profiles, `key` says which pod a create needs, `member` renders a member and a
//! bind. Pure; the pool's I/O is the provisioner's.

pub mod key;
pub mod member;
pub mod pool;

use crate::config::DriverConfig;
use crate::kubernetes::render::SandboxApiVersion;

/// Reads `--warm-pool-config` and renders each profile's member once, so that a profile no
/// create could have (a bad image, a persistent workspace, an unknown platform key) stops the
/// driver at startup, naming the profile and the field.
pub fn load(
    config: &DriverConfig,
    enricher_keys: &[&str],
) -> Result<Vec<crate::config::warm_pool::PoolProfile>, String> {
    if config.warm_pool_config.is_empty() {
        return Ok(Vec::new());
    }
    let path = &config.warm_pool_config;
    let text = std::fs::read_to_string(path).map_err(|e| format!("--warm-pool-config {path}: {e}"))?;
    let profiles = crate::config::warm_pool::parse_profiles(&text)?;
    for profile in &profiles {
        member::render_member(
            profile,
            config,
            SandboxApiVersion::V1beta1,
            enricher_keys,
            "warm-profile-check",
        )
        .map_err(|e| format!("warm pool config: profile {}: {e}", profile.name))?;
    }
    Ok(profiles)
}

#[cfg(test)]
#[path = "warm_pool_tests.rs"]
mod tests;
