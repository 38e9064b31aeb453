//! User namespaces and AppArmor: the driver-wide defaults (`--enable-user-namespaces`,
//! `--app-armor-profile`) and a sandbox's own choice in `platform_config` (`host_users`,
//! `app_armor_profile`), which wins. Pure.

use crate::config::{AppArmor, DriverConfig, parse_app_armor};
use crate::error::DriverError;
use crate::kubernetes::request_config::PlatformConfig;

/// What one sandbox's pod gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// `spec.hostUsers`: `Some(false)` runs the pod in a user namespace (and gives the agent
    /// container the three extra capabilities root needs there).
    pub host_users: Option<bool>,
    pub app_armor: AppArmor,
}

pub fn isolation(platform: &PlatformConfig, config: &DriverConfig) -> Result<Isolation, DriverError> {
    let host_users = platform.host_users.or((config.enable_user_namespaces).then_some(false));
    let app_armor = match &platform.app_armor_profile {
        None => config.app_armor_profile.clone(),
        Some(text) => parse_app_armor(text)
            .map_err(|e| DriverError::invalid(format!("platform_config.app_armor_profile: {e}")))?,
    };
    Ok(Isolation { host_users, app_armor })
}

#[cfg(test)]
#[path = "isolation_tests.rs"]
mod tests;
