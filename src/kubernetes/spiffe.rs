//! The SPIFFE Workload API socket for provider token grants (`--provider-spiffe-socket`): the
//! SPIFFE CSI driver's inline volume (`csi.spiffe.io`, read-only) mounted at the socket's
//! directory, and `OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET` naming the socket. The
//! supervisor fetches JWT-SVIDs from it for upstream provider token exchanges
//! (crates/openshell-supervisor-network/src/token_grant.rs) and hides that directory from the
//! agent's processes with a tmpfs (crates/openshell-supervisor-process/src/process.rs,
//! `supervisor_identity_mount_target`), which is why the socket needs a directory of its own.
//! Pure.

use k8s_openapi::api::core::v1::{CSIVolumeSource, Volume, VolumeMount};

pub use crate::config::spiffe::{SpiffeConfig, parse_socket_path};

/// The volume's name (upstream's) and the CSI driver that serves the Workload API.
pub const SPIFFE_VOLUME: &str = "spiffe-workload-api";
pub const SPIFFE_CSI_DRIVER: &str = "csi.spiffe.io";
/// The variable the supervisor reads the socket's path from (crates/openshell-core/src/sandbox_env.rs).
pub const SPIFFE_SOCKET_VAR: &str = "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET";
// What the setting renders; the flag and its startup check are `config::spiffe`'s.
impl SpiffeConfig {
    /// The SPIFFE CSI driver's inline volume, read-only.
    pub fn volume(&self) -> Option<Volume> {
        self.enabled().then(|| Volume {
            name: SPIFFE_VOLUME.into(),
            csi: Some(CSIVolumeSource {
                driver: SPIFFE_CSI_DRIVER.into(),
                read_only: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    pub fn mount(&self) -> Option<VolumeMount> {
        self.socket_dir()
            .map(|dir| crate::kubernetes::mounts::mount(SPIFFE_VOLUME, &dir, true))
    }

    /// The supervisor's variable and its value.
    pub fn env(&self) -> Option<(&'static str, String)> {
        self.enabled()
            .then(|| (SPIFFE_SOCKET_VAR, self.provider_spiffe_socket.clone()))
    }
}

#[cfg(test)]
#[path = "spiffe_tests.rs"]
mod tests;
