//! Pool profiles: the operator's file (`--warm-pool-config`), never a sandbox request. Each
//! profile is the part of a create that fixes the pod before any sandbox exists: where, which
//! image, what resources and platform options. What each create brings itself (its names,
//! command, environment, labels, token) is bound later and may not be set here.

use std::time::Duration;

use serde::Deserialize;

use crate::grammar::validate_public_name;
use crate::proto::{DriverSandboxSpec, DriverSandboxTemplate, ResourceRequirements};

/// At most this many warm members per profile: each is a running pod.
pub const MAX_SIZE: u32 = 100;
/// A member older than this is replaced (its image may have moved on), unless set.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct PoolProfile {
    pub name: String,
    /// The workspace of the sandboxes it serves; "" is the default workspace.
    pub workspace: String,
    pub size: u32,
    pub max_age: Duration,
    /// The request a member is rendered from: the profile's template and resources.
    pub spec: DriverSandboxSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profiles: Vec<ProfileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProfileEntry {
    name: String,
    #[serde(default)]
    workspace: String,
    size: u32,
    #[serde(default)]
    max_age: Option<String>,
    /// The gateway's JSON form of `DriverSandboxTemplate` (`image`, `resources`,
    /// `platformConfig`, `driverConfig`).
    #[serde(default)]
    template: serde_json::Value,
    #[serde(default)]
    resource_requirements: serde_json::Value,
}

/// Parses and checks the file; an error names the profile and the field.
pub fn parse_profiles(text: &str) -> Result<Vec<PoolProfile>, String> {
    let file: ProfileFile = serde_yaml::from_str(text).map_err(|e| format!("warm pool config: {e}"))?;
    let mut profiles: Vec<PoolProfile> = Vec::new();
    for (i, entry) in file.profiles.into_iter().enumerate() {
        let at = format!("profiles[{i}] ({})", entry.name);
        let profile = profile(entry).map_err(|e| format!("warm pool config: {at}: {e}"))?;
        if profiles.iter().any(|p| p.name == profile.name) {
            return Err(format!("warm pool config: {at}: name: a second profile of that name"));
        }
        profiles.push(profile);
    }
    Ok(profiles)
}

fn profile(entry: ProfileEntry) -> Result<PoolProfile, String> {
    validate_public_name("name", &entry.name).map_err(|e| e.to_string())?;
    if !entry.workspace.is_empty() {
        validate_public_name("workspace", &entry.workspace).map_err(|e| e.to_string())?;
    }
    if entry.size > MAX_SIZE {
        return Err(format!("size: {} is more than {MAX_SIZE}", entry.size));
    }
    let max_age = match entry.max_age.as_deref() {
        None => DEFAULT_MAX_AGE,
        Some(text) => humantime::parse_duration(text)
            .ok()
            .filter(|d| *d >= Duration::from_secs(60))
            .ok_or_else(|| format!("maxAge: {text:?} is not a duration of at least 1m"))?,
    };
    let template: DriverSandboxTemplate = from_wire("template", entry.template)?;
    if template.image.is_empty() {
        return Err("template.image: a profile names its image".into());
    }
    for (field, set) in [
        ("template.labels", !template.labels.is_empty()),
        ("template.environment", !template.environment.is_empty()),
        ("template.agentSocketPath", !template.agent_socket_path.is_empty()),
    ] {
        if set {
            return Err(format!("{field}: set by each create, not by a profile"));
        }
    }
    let resource_requirements: ResourceRequirements = from_wire("resourceRequirements", entry.resource_requirements)?;
    Ok(PoolProfile {
        name: entry.name,
        workspace: entry.workspace,
        size: entry.size,
        max_age,
        spec: DriverSandboxSpec {
            template: Some(template),
            resource_requirements: Some(resource_requirements),
            ..Default::default()
        },
    })
}

/// A message in the gateway's JSON form (what pbjson reads); `null` is the empty message.
fn from_wire<T: serde::de::DeserializeOwned + Default>(field: &str, value: serde_json::Value) -> Result<T, String> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." { String::new() } else { format!(".{path}") };
        format!("{field}{at}: {}", e.inner())
    })
}

#[cfg(test)]
#[path = "warm_pool_tests.rs"]
mod tests;
