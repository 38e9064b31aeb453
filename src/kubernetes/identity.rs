//! Names and labels: how a gateway sandbox maps onto Kubernetes object names and labels.

use std::collections::BTreeMap;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::error::DriverError;
use crate::grammar::validate_public_name;
use crate::proto::DriverSandbox;

pub const LABEL_SANDBOX_ID: &str = "openshell.ai/sandbox-id";
pub const LABEL_SANDBOX_NAME: &str = "openshell.ai/sandbox-name";
pub const LABEL_WORKSPACE: &str = "openshell.ai/sandbox-workspace";
pub const LABEL_MANAGED_BY: &str = "openshell.ai/managed-by";
pub const LABEL_GATEWAY_ID: &str = "openshell.ai/gateway-id";
pub const LABEL_KAGENTI_TYPE: &str = "kagenti.io/type";
pub const MANAGED_BY: &str = "openshell";
pub const POD_NAME_ANNOTATION: &str = "agents.x-k8s.io/pod-name";
pub const DEFAULT_WORKSPACE: &str = "default";

/// Where one sandbox lives in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxIdentity {
    pub id: String,
    pub name: String,
    pub workspace: String,
    pub namespace: String,
    /// Name of the Sandbox object (and, by the controller's convention, of its Pod).
    pub object_name: String,
}

impl SandboxIdentity {
    pub fn token_secret_name(&self) -> String {
        format!("{}-openshell-token", self.object_name)
    }
}

/// Derives the identity of a create request; fails on names the gateway should never send.
pub fn identity_of(sandbox: &DriverSandbox, config: &DriverConfig) -> Result<SandboxIdentity, DriverError> {
    validate_sandbox_id(&sandbox.id)?;
    validate_public_name("name", &sandbox.name)?;
    let workspace = if sandbox.workspace.is_empty() {
        DEFAULT_WORKSPACE
    } else {
        &sandbox.workspace
    };
    validate_public_name("workspace", workspace)?;
    let (namespace, object_name) = match config.workspace_mode {
        // `--` never appears in a valid name, so `{workspace}--{name}` cannot collide.
        WorkspaceMode::Shared => (config.namespace.clone(), format!("{workspace}--{}", sandbox.name)),
        WorkspaceMode::Managed => (workspace_namespace(config, workspace), sandbox.name.clone()),
        // The platform team's namespace of the same name (its allowlist is checked on create).
        WorkspaceMode::Operator => (workspace.to_string(), sandbox.name.clone()),
    };
    Ok(SandboxIdentity {
        id: sandbox.id.clone(),
        name: sandbox.name.clone(),
        workspace: workspace.to_string(),
        namespace,
        object_name,
    })
}

pub fn workspace_namespace(config: &DriverConfig, workspace: &str) -> String {
    format!("{}{workspace}", config.workspace_namespace_prefix)
}

/// The gateway's id is a UUID; it becomes a label value, so only label-safe ids are accepted.
pub fn validate_sandbox_id(id: &str) -> Result<(), DriverError> {
    if id.is_empty() {
        return Err(DriverError::invalid("sandbox id is required"));
    }
    let label_safe = id.len() <= 63
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !label_safe {
        return Err(DriverError::invalid(format!(
            "sandbox id {id:?} is not a valid id (expected a UUID)"
        )));
    }
    Ok(())
}

/// What marks an object as made by this gateway's driver: its labels, the selector that finds
/// such objects, and the test of a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership<'a> {
    pub gateway_id: &'a str,
}

impl<'a> Ownership<'a> {
    pub fn new(gateway_id: &'a str) -> Self {
        Self { gateway_id }
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_GATEWAY_ID.to_string(), self.gateway_id.to_string()),
        ])
    }

    pub fn selector(&self) -> String {
        format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_GATEWAY_ID}={}", self.gateway_id)
    }

    pub fn owns(&self, labels: &BTreeMap<String, String>) -> bool {
        labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
            && labels.get(LABEL_GATEWAY_ID).map(String::as_str) == Some(self.gateway_id)
    }
}

/// The labels the driver owns; they win over template labels with the same key.
pub fn driver_labels(identity: &SandboxIdentity, gateway_id: &str) -> BTreeMap<String, String> {
    let mut labels = Ownership::new(gateway_id).labels();
    labels.extend([
        (LABEL_SANDBOX_ID.to_string(), identity.id.clone()),
        (LABEL_SANDBOX_NAME.to_string(), identity.name.clone()),
        (LABEL_WORKSPACE.to_string(), identity.workspace.clone()),
        (LABEL_KAGENTI_TYPE.to_string(), "agent".to_string()),
    ]);
    labels
}

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;
