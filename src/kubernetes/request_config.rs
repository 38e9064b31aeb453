//! The two free-form blocks of a sandbox template, parsed into typed, validated schemas.
//!
//! `platform_config` is filled by the gateway; `driver_config` is the block a user addressed to
//! this driver. Unknown keys are rejected with INVALID_ARGUMENT naming the key, so a typo never
//! silently does nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::DriverError;
use crate::grammar::{is_dns_subdomain, validate_label_key, validate_label_value, validate_path, validate_quantity};
use crate::proto::json::struct_to_json;

/// Raw requests/limits maps (`resources_raw`, `agent_resources`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
}

impl RawResources {
    fn validate(&self, field: &str) -> Result<(), DriverError> {
        for (kind, map) in [("requests", &self.requests), ("limits", &self.limits)] {
            for (name, quantity) in map {
                validate_label_key(&format!("{field}.{kind}"), name)?;
                validate_quantity(&format!("{field}.{kind}.{name}"), quantity)?;
            }
        }
        Ok(())
    }
}

/// Keys the gateway (or an operator) puts in `platform_config`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformConfig {
    pub runtime_class_name: Option<String>,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// Pod annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub host_users: Option<bool>,
    /// The agent's AppArmor profile, as `--app-armor-profile` takes it; wins over that flag.
    pub app_armor_profile: Option<String>,
    pub resources_raw: Option<RawResources>,
}

/// One extra PersistentVolumeClaim mounted into the agent container.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeMountConfig {
    pub claim_name: String,
    pub mount_path: String,
    #[serde(default)]
    pub sub_path: Option<String>,
    #[serde(default)]
    pub read_only: bool,
}

/// The `driver_config` block addressed to this driver.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverSpecificConfig {
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMountConfig>,
    pub agent_resources: Option<RawResources>,
    /// Time to live, e.g. `8h` (`spec.shutdownTime`); else `--default-ttl`.
    /// (Any JSON here, so that a wrong type is refused naming this key.)
    pub ttl: Option<serde_json::Value>,
    /// What backs `/sandbox` for this sandbox, over `--workspace-*`.
    pub workspace: Option<WorkspaceOverride>,
}

/// `driver_config.workspace`: the sandbox's own workspace volume settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceOverride {
    pub mode: Option<crate::config::workspace_volume::WorkspaceVolumeMode>,
    pub size: Option<String>,
    pub storage_class: Option<String>,
    pub access_mode: Option<crate::config::workspace_volume::AccessMode>,
}

impl WorkspaceOverride {
    fn validate(&self) -> Result<(), DriverError> {
        use crate::config::workspace_volume::{parse_size, parse_storage_class};
        let field = |name: &str, e: String| DriverError::invalid(format!("driver_config.workspace.{name}: {e}"));
        if let Some(size) = &self.size {
            parse_size(size).map_err(|e| field("size", e))?;
        }
        if let Some(class) = &self.storage_class {
            parse_storage_class(class).map_err(|e| field("storage_class", e))?;
        }
        Ok(())
    }
}

/// Deserializes one block, turning serde's message (which names the unknown or mistyped key)
/// into INVALID_ARGUMENT. `extra_keys` are removed first: they belong to a platform enricher.
fn parse_block<T: DeserializeOwned + Default>(
    field: &str,
    block: Option<&pbjson_types::Struct>,
    extra_keys: &[&str],
) -> Result<T, DriverError> {
    let Some(block) = block else { return Ok(T::default()) };
    let mut json = struct_to_json(block);
    if let Some(map) = json.as_object_mut() {
        map.retain(|k, _| !extra_keys.contains(&k.as_str()));
    }
    serde_json::from_value(json).map_err(|e| DriverError::invalid(format!("{field}: {e}")))
}

pub fn parse_platform_config(
    block: Option<&pbjson_types::Struct>,
    enricher_keys: &[&str],
) -> Result<PlatformConfig, DriverError> {
    let config: PlatformConfig = parse_block("platform_config", block, enricher_keys)?;
    if let Some(name) = &config.runtime_class_name
        && !is_dns_subdomain(name)
    {
        return Err(DriverError::invalid(format!(
            "platform_config.runtime_class_name: {name:?} is not a valid name"
        )));
    }
    for (k, v) in &config.node_selector {
        validate_label_key("platform_config.node_selector", k)?;
        validate_label_value("platform_config.node_selector", k, v)?;
    }
    for k in config.annotations.keys() {
        validate_label_key("platform_config.annotations", k)?;
    }
    if let Some(raw) = &config.resources_raw {
        raw.validate("platform_config.resources_raw")?;
    }
    Ok(config)
}

/// Parses `driver_config`; `reserved_paths` are mount paths the driver itself uses.
pub fn parse_driver_config(
    block: Option<&pbjson_types::Struct>,
    reserved_paths: &[&str],
) -> Result<DriverSpecificConfig, DriverError> {
    let config: DriverSpecificConfig = parse_block("driver_config", block, &[])?;
    let mut seen_paths = Vec::new();
    for (i, m) in config.volume_mounts.iter().enumerate() {
        let field = format!("driver_config.volume_mounts[{i}]");
        if !is_dns_subdomain(&m.claim_name) {
            return Err(DriverError::invalid(format!(
                "{field}.claim_name: {:?} is not a valid claim name",
                m.claim_name
            )));
        }
        validate_path(&format!("{field}.mount_path"), &m.mount_path, true)?;
        if let Some(sub) = &m.sub_path {
            validate_path(&format!("{field}.sub_path"), sub, false)?;
        }
        let path = m.mount_path.trim_end_matches('/');
        if let Some(reserved) = reserved_paths
            .iter()
            .find(|r| path == **r || path.starts_with(&format!("{r}/")) || r.starts_with(&format!("{path}/")))
        {
            return Err(DriverError::invalid(format!(
                "{field}.mount_path: {:?} overlaps the driver's reserved path {reserved:?}",
                m.mount_path
            )));
        }
        if seen_paths.contains(&path) {
            return Err(DriverError::invalid(format!(
                "{field}.mount_path: {:?} is mounted twice",
                m.mount_path
            )));
        }
        seen_paths.push(path);
    }
    if let Some(raw) = &config.agent_resources {
        raw.validate("driver_config.agent_resources")?;
    }
    if let Some(workspace) = &config.workspace {
        workspace.validate()?;
    }
    Ok(config)
}

#[cfg(test)]
#[path = "request_config_tests.rs"]
mod tests;
