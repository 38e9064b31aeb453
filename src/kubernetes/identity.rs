//! Names and labels: how a gateway sandbox maps onto Kubernetes object names and labels.

use std::collections::BTreeMap;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::error::DriverError;
use crate::kubernetes::validation::validate_public_name;
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

/// Labels that select everything this gateway's driver manages.
pub fn ownership_selector(gateway_id: &str) -> String {
    format!("{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_GATEWAY_ID}={gateway_id}")
}

/// The labels the driver owns; they win over template labels with the same key.
pub fn driver_labels(identity: &SandboxIdentity, gateway_id: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_SANDBOX_ID.to_string(), identity.id.clone()),
        (LABEL_SANDBOX_NAME.to_string(), identity.name.clone()),
        (LABEL_WORKSPACE.to_string(), identity.workspace.clone()),
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (LABEL_GATEWAY_ID.to_string(), gateway_id.to_string()),
        (LABEL_KAGENTI_TYPE.to_string(), "agent".to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, workspace: &str) -> DriverSandbox {
        DriverSandbox {
            id: "3f2b8a4e-8d7c-4b1a-9a55-0f5d0c9e1a11".into(),
            name: name.into(),
            workspace: workspace.into(),
            ..Default::default()
        }
    }

    #[test]
    fn object_names_by_mode() {
        let mut config = DriverConfig::defaults();
        let shared = identity_of(&request("dev", ""), &config).expect("valid");
        assert_eq!(
            (shared.namespace.as_str(), shared.object_name.as_str()),
            ("openshell-system", "default--dev")
        );
        assert_eq!(shared.workspace, "default");

        config.workspace_mode = WorkspaceMode::Managed;
        let managed = identity_of(&request("dev", "team-a"), &config).expect("valid");
        assert_eq!(
            (managed.namespace.as_str(), managed.object_name.as_str()),
            ("openshell-ws-team-a", "dev")
        );
    }

    #[test]
    fn rejects_bad_identities() {
        let config = DriverConfig::defaults();
        let cases = [
            ("", "default", "name"),
            ("Dev", "default", "name"),
            ("a--b", "default", "name"),
            ("-dev", "default", "name"),
            ("this-name-is-far-too-long", "default", "name"),
            ("dev", "Team", "workspace"),
            ("dev", "ws_1", "workspace"),
        ];
        for (name, ws, field) in cases {
            let err = identity_of(&request(name, ws), &config).expect_err(name);
            assert_eq!(err.code(), tonic::Code::InvalidArgument);
            assert!(err.to_string().contains(field), "{name}/{ws}: {err}");
        }
        let mut bad_id = request("dev", "");
        for id in ["", "has space", "-leading", &"x".repeat(64)] {
            bad_id.id = id.to_string();
            assert_eq!(
                identity_of(&bad_id, &config).expect_err(id).code(),
                tonic::Code::InvalidArgument
            );
        }
    }

    #[test]
    fn driver_labels_carry_identity() {
        let config = DriverConfig::defaults();
        let id = identity_of(&request("dev", "ws"), &config).expect("valid");
        let labels = driver_labels(&id, "gw-1");
        assert_eq!(labels[LABEL_SANDBOX_ID], id.id);
        assert_eq!(labels[LABEL_GATEWAY_ID], "gw-1");
        assert_eq!(labels[LABEL_KAGENTI_TYPE], "agent");
        assert_eq!(
            ownership_selector("gw-1"),
            "openshell.ai/managed-by=openshell,openshell.ai/gateway-id=gw-1"
        );
    }
}
