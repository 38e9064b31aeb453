//! `--provider-spiffe-socket`: the flag and its startup check. The CSI volume and the variable it
//! renders are `kubernetes::spiffe`'s.

use clap::Args;

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
}
