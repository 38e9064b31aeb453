//! `--workspace-volume` and its claim's settings: what backs the agent's `/sandbox`. The pod
//! parts it renders are `kubernetes::workspace_volume`'s.

use clap::{Args, ValueEnum};
use serde::Deserialize;

/// Upstream's default claim size (crates/openshell-driver-kubernetes/src/config.rs).
pub const DEFAULT_SIZE: &str = "2Gi";

/// `--workspace-volume`: what is mounted at `/sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceVolumeMode {
    /// A PersistentVolumeClaim per sandbox (the Sandbox's `volumeClaimTemplates`): it survives
    /// stop and start, and goes with the sandbox unless `--workspace-retain`.
    Persistent,
    /// An emptyDir: seeded from the image like a claim, gone when the pod goes (stop included).
    Ephemeral,
    /// Nothing: `/sandbox` is the image's own directory, in the container's writable layer.
    Off,
}

impl WorkspaceVolumeMode {
    pub fn as_flag(self) -> &'static str {
        match self {
            Self::Persistent => "persistent",
            Self::Ephemeral => "ephemeral",
            Self::Off => "off",
        }
    }
}

/// `--workspace-access-mode`: the claim's access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
pub enum AccessMode {
    #[value(name = "ReadWriteOnce")]
    ReadWriteOnce,
    #[value(name = "ReadWriteOncePod")]
    ReadWriteOncePod,
    #[value(name = "ReadWriteMany")]
    ReadWriteMany,
}

impl AccessMode {
    pub fn as_k8s(self) -> &'static str {
        match self {
            Self::ReadWriteOnce => "ReadWriteOnce",
            Self::ReadWriteOncePod => "ReadWriteOncePod",
            Self::ReadWriteMany => "ReadWriteMany",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Args)]
#[command(next_help_heading = "Workspace volume")]
pub struct WorkspaceVolumeConfig {
    /// What backs each sandbox's `/sandbox`: a claim per sandbox (persistent), an emptyDir
    /// (ephemeral), or the image's own directory (off). Persistent and ephemeral copy the
    /// image's `/sandbox` in on first start. `driver_config.workspace.mode` overrides it.
    #[arg(
        long = "workspace-volume",
        env = "OPENSHELL_DRIVER_WORKSPACE_VOLUME",
        value_enum,
        default_value = "persistent"
    )]
    pub mode: WorkspaceVolumeMode,

    /// Size the workspace claim requests (a Kubernetes quantity above zero).
    #[arg(
        long = "workspace-size",
        env = "OPENSHELL_DRIVER_WORKSPACE_SIZE",
        default_value = DEFAULT_SIZE,
        value_parser = parse_size
    )]
    pub size: String,

    /// StorageClass of the workspace claim. Empty: the cluster's default class (a cluster
    /// without one leaves the claim, and so the sandbox, Pending; `check` says so).
    #[arg(
        long = "workspace-storage-class",
        env = "OPENSHELL_DRIVER_WORKSPACE_STORAGE_CLASS",
        default_value = "",
        value_parser = parse_storage_class
    )]
    pub storage_class: String,

    /// Access mode of the workspace claim.
    #[arg(
        long = "workspace-access-mode",
        env = "OPENSHELL_DRIVER_WORKSPACE_ACCESS_MODE",
        value_enum,
        default_value = "ReadWriteOnce"
    )]
    pub access_mode: AccessMode,

    /// Keep a sandbox's workspace claim when the sandbox is deleted: it is released from the
    /// Sandbox (no owner, no tracking label) and labelled `openshell.ai/workspace-retained`, so
    /// no later sandbox adopts it. A later sandbox of the same name is refused until the claim
    /// is deleted.
    #[arg(long = "workspace-retain", env = "OPENSHELL_DRIVER_WORKSPACE_RETAIN")]
    pub retain: bool,
}

/// A quantity above zero: a claim of size zero is refused by the API server only at create.
pub fn parse_size(text: &str) -> Result<String, String> {
    match crate::grammar::validate_quantity("size", text) {
        Ok(v) if v > 0.0 => Ok(text.to_string()),
        _ => Err(format!(
            "{text:?} is not a Kubernetes quantity above zero (examples: 2Gi, 500Mi)"
        )),
    }
}

/// Empty (the cluster default) or a StorageClass name.
pub fn parse_storage_class(text: &str) -> Result<String, String> {
    if text.is_empty() || crate::grammar::is_dns_subdomain(text) {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a StorageClass name (a DNS subdomain)"))
    }
}
