//! The SPIFFE Workload API socket for provider token grants (`--provider-spiffe-socket`): the
//! SPIFFE CSI driver's inline volume (`csi.spiffe.io`, read-only) mounted at the socket's
//! directory, and `OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET` naming the socket. The
//! supervisor fetches JWT-SVIDs from it for upstream provider token exchanges
//! (crates/openshell-supervisor-network/src/token_grant.rs) and hides that directory from the
//! agent's processes with a tmpfs (crates/openshell-supervisor-process/src/process.rs,
//! `supervisor_identity_mount_target`), which is why the socket needs a directory of its own.
//! Pure.

use clap::Args;
use k8s_openapi::api::core::v1::{CSIVolumeSource, Volume, VolumeMount};

/// The volume's name (upstream's) and the CSI driver that serves the Workload API.
pub const SPIFFE_VOLUME: &str = "spiffe-workload-api";
pub const SPIFFE_CSI_DRIVER: &str = "csi.spiffe.io";
/// The variable the supervisor reads the socket's path from (crates/openshell-core/src/sandbox_env.rs).
pub const SPIFFE_SOCKET_VAR: &str = "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET";
/// Directories the supervisor refuses to hide (`is_shared_root_mount_shadow`).
const SHARED_DIRS: [&str; 4] = ["/run", "/var", "/tmp", "/etc"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct SpiffeConfig {
    /// Path of the SPIFFE Workload API socket inside sandbox pods, e.g.
    /// `/spiffe-workload-api/spire-agent.sock`: its directory is the SPIFFE CSI driver's volume
    /// (`csi.spiffe.io`, which must be installed), for provider token grants. Empty: off.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_PROVIDER_SPIFFE_SOCKET",
        alias = "provider-spiffe-workload-api-socket-path",
        default_value = "",
        value_parser = parse_socket_path
    )]
    pub provider_spiffe_socket: String,
}

/// An absolute path, below a directory of its own that the supervisor can hide. Empty is "off".
pub fn parse_socket_path(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    if raw.trim() != raw {
        return Err(format!("{raw:?} has leading or trailing whitespace"));
    }
    if let Some(scheme) = ["unix:", "tcp:"].into_iter().find(|s| raw.starts_with(s)) {
        return Err(format!(
            "{raw:?}: give the socket's path, without {scheme} (the CSI volume is mounted at its directory)"
        ));
    }
    if !raw.starts_with('/') || raw.contains("//") || raw.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(format!("{raw:?} must be a plain absolute path (no '.', '..' or '//')"));
    }
    let dir = socket_dir_of(raw);
    if dir.is_empty() || raw.ends_with('/') {
        return Err(format!(
            "{raw:?} must be a socket below a directory of its own, e.g. /spiffe-workload-api/spire-agent.sock"
        ));
    }
    if SHARED_DIRS.contains(&dir.as_str()) {
        return Err(format!(
            "{raw:?}: the supervisor refuses to hide the shared directory {dir}; use a directory of its own"
        ));
    }
    Ok(raw.to_string())
}

fn socket_dir_of(path: &str) -> String {
    path.rsplit_once('/')
        .map(|(dir, _)| dir.to_string())
        .unwrap_or_default()
}

impl SpiffeConfig {
    pub fn enabled(&self) -> bool {
        !self.provider_spiffe_socket.is_empty()
    }

    /// The directory the CSI volume is mounted at.
    pub fn socket_dir(&self) -> Option<String> {
        self.enabled().then(|| socket_dir_of(&self.provider_spiffe_socket))
    }

    /// The socket's directory may not be, contain or lie inside another of the driver's mounts.
    pub fn validate(&self, other_mounts: &[String]) -> Result<(), String> {
        let Some(dir) = self.socket_dir() else { return Ok(()) };
        let inside = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}/"));
        match other_mounts.iter().find(|m| inside(&dir, m) || inside(m, &dir)) {
            Some(m) => Err(format!(
                "--provider-spiffe-socket {:?}: its directory {dir} overlaps the driver's mount {m}",
                self.provider_spiffe_socket
            )),
            None => Ok(()),
        }
    }

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
            .map(|dir| crate::kubernetes::volumes::mount(SPIFFE_VOLUME, &dir, true))
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
