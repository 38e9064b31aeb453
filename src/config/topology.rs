//! `--topology combined|sidecar` and the sidecar's settings: the flags and their startup check.
//! What they render is `kubernetes::topology`'s.

use clap::{ArgAction, Args, ValueEnum};

use crate::config::DEFAULT_SANDBOX_ID;

/// Upstream's default proxy UID, and the range the supervisor's network-init accepts
/// (crates/openshell-policy/src/lib.rs: MIN_SANDBOX_PROXY_UID..=MAX_SANDBOX_UID).
pub const DEFAULT_PROXY_UID: u32 = 1337;
pub const MIN_PROXY_UID: u32 = 1000;
pub const MAX_PROXY_UID: u32 = u32::MAX - 1;
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Topology {
    /// The whole supervisor in the agent container, as root with its capabilities.
    Combined,
    /// Network supervision in its own container; the agent runs non-root with no capabilities.
    Sidecar,
}

/// `--topology` and the sidecar's settings (upstream's names, our `OPENSHELL_DRIVER_*` variables).
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct TopologyConfig {
    /// Where network supervision runs: `combined` (in the agent container, root with
    /// SYS_ADMIN, NET_ADMIN, SYS_PTRACE, SYSLOG) or `sidecar` (a container of its own; the
    /// agent runs as the sandbox user with no capabilities).
    #[arg(long, env = "OPENSHELL_DRIVER_TOPOLOGY", value_enum, default_value = "combined")]
    pub topology: Topology,

    /// UID of the network supervisor when it is not binary-aware (sidecar topology); its
    /// traffic bypasses the pod's redirection, so it must not be the sandbox UID.
    #[arg(long, env = "OPENSHELL_DRIVER_SIDECAR_PROXY_UID", default_value_t = DEFAULT_PROXY_UID, value_parser = parse_proxy_uid)]
    pub sidecar_proxy_uid: u32,

    /// Match `policy.binaries` in sidecar topology: the network supervisor runs as UID 0 with
    /// SYS_PTRACE and DAC_READ_SEARCH to read the agent's /proc. `false`: it runs as
    /// --sidecar-proxy-uid with no capabilities and ignores `policy.binaries`.
    #[arg(long, env = "OPENSHELL_DRIVER_SIDECAR_PROCESS_BINARY_AWARE_NETWORK_POLICY", default_value_t = true, action = ArgAction::Set)]
    pub sidecar_process_binary_aware_network_policy: bool,
}

pub fn parse_proxy_uid(raw: &str) -> Result<u32, String> {
    let uid: u32 = raw.trim().parse().map_err(|e| format!("{raw:?} is not a UID: {e}"))?;
    if !(MIN_PROXY_UID..=MAX_PROXY_UID).contains(&uid) {
        return Err(format!(
            "{uid} is outside [{MIN_PROXY_UID}, {MAX_PROXY_UID}], the range the supervisor's network-init accepts"
        ));
    }
    Ok(uid)
}

impl TopologyConfig {
    pub fn is_sidecar(&self) -> bool {
        self.topology == Topology::Sidecar
    }

    pub fn as_flag(&self) -> &'static str {
        match self.topology {
            Topology::Combined => "combined",
            Topology::Sidecar => "sidecar",
        }
    }

    /// The network supervisor's UID: root when binary-aware (so the kubelet grants its two
    /// capabilities into the effective set without privilege escalation), else the proxy UID.
    pub fn network_uid(&self) -> u32 {
        if self.sidecar_process_binary_aware_network_policy {
            0
        } else {
            self.sidecar_proxy_uid
        }
    }

    /// Refused at start: the exempt proxy UID may not be the sandbox's (its traffic would
    /// bypass policy).
    pub fn validate(&self, sandbox_uid: Option<u32>) -> Result<(), String> {
        let uid = sandbox_uid.unwrap_or(DEFAULT_SANDBOX_ID);
        if self.is_sidecar() && !self.sidecar_process_binary_aware_network_policy && self.sidecar_proxy_uid == uid {
            return Err(format!(
                "--sidecar-proxy-uid {} is the sandbox UID: the proxy UID's traffic bypasses the sandbox's network policy",
                self.sidecar_proxy_uid
            ));
        }
        Ok(())
    }
}
