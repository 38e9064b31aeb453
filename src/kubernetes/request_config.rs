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
use crate::kubernetes::validation::{
    is_dns_subdomain, validate_label_key, validate_label_value, validate_path, validate_quantity,
};

/// Converts a protobuf Struct to JSON (numbers stay f64, as on the wire).
pub fn struct_to_json(s: &prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(s.fields.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

pub fn value_to_json(v: &prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::NumberValue(n)) => {
            // Integral numbers become integers so that typed fields such as ports accept them.
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                serde_json::Value::from(*n as i64)
            } else {
                serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(*b),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => serde_json::Value::Array(l.values.iter().map(value_to_json).collect()),
    }
}

/// Converts JSON to a protobuf Struct (for clients that build requests from YAML/JSON).
pub fn json_to_struct(value: &serde_json::Value) -> Option<prost_types::Struct> {
    match json_to_value(value).kind {
        Some(prost_types::value::Kind::StructValue(s)) => Some(s),
        _ => None,
    }
}

fn json_to_value(v: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(*b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        serde_json::Value::String(s) => Kind::StringValue(s.clone()),
        serde_json::Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(prost_types::Struct {
            fields: o.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

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
}

/// Deserializes one block, turning serde's message (which names the unknown or mistyped key)
/// into INVALID_ARGUMENT. `extra_keys` are removed first: they belong to a platform enricher.
fn parse_block<T: DeserializeOwned + Default>(
    field: &str,
    block: Option<&prost_types::Struct>,
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
    block: Option<&prost_types::Struct>,
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
    block: Option<&prost_types::Struct>,
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
    Ok(config)
}

#[cfg(test)]
#[path = "request_config_tests.rs"]
mod tests;
