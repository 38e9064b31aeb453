//! `--expiry-policy` and `--default-ttl` (and the grammar `driver_config.ttl` shares). What they
//! render is `kubernetes::expiry`'s.

use std::time::Duration;

use clap::ValueEnum;

/// `--expiry-policy`: what happens to the Sandbox object when it expires (its pod always goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExpiryPolicy {
    /// Keep the object: the gateway sees the sandbox stopped, with reason SandboxExpired.
    Retain,
    /// Delete it: the gateway sees the sandbox deleted.
    Delete,
}

impl ExpiryPolicy {
    pub fn as_k8s(self) -> &'static str {
        match self {
            Self::Retain => "Retain",
            Self::Delete => "Delete",
        }
    }
}

/// `--default-ttl` and `driver_config.ttl`: a humantime duration, at least one second;
/// `0s` (flag only) means never.
pub fn parse_ttl(field: &str, text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text)
        .map_err(|e| format!("{field}: {text:?} is not a duration ({e}; examples: 30m, 8h, 7d)"))?;
    if ttl > Duration::from_secs(100 * 365 * 24 * 3600) {
        return Err(format!("{field}: {text:?} is more than 100 years"));
    }
    Ok(ttl)
}

/// The flag's parser: `0s` turns the default off.
pub fn parse_default_ttl(text: &str) -> Result<Duration, String> {
    parse_ttl("--default-ttl", text)
}
