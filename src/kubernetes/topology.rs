//! `--topology combined|sidecar`: where network supervision runs. `combined` (the default) runs
//! the whole supervisor as root in the agent container. `sidecar` moves it out, as upstream's
//! driver does (crates/openshell-driver-kubernetes/src/driver.rs,
//! `apply_supervisor_sidecar_topology`): a root init container (`--mode=network-init`) installs
//! the pod's nftables bypass rules and prepares the shared directories, a long-running container
//! of the supervisor image (`--mode=network`) holds the gateway credentials and enforces egress,
//! and the agent container runs the process supervisor (`--mode=process`) as the sandbox user with
//! every capability dropped. The two talk over a control socket in a shared emptyDir; the pod
//! shares its process namespace so the network supervisor can resolve binaries through /proc.
//! Pure: it rewrites a rendered combined pod.

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EnvVar, PodSecurityContext, PodSpec, SecurityContext, Volume, VolumeMount,
};

use crate::config::DriverConfig;
pub use crate::config::topology::{
    DEFAULT_PROXY_UID, MAX_PROXY_UID, MIN_PROXY_UID, Topology, TopologyConfig, parse_proxy_uid,
};
use crate::kubernetes::containers::{AGENT_CONTAINER, pull_policy};
use crate::kubernetes::mounts::{empty_dir, mount};
use crate::kubernetes::proxy::PROXY_AUTH_VOLUME;
use crate::kubernetes::supervisor::{
    DEFAULT_SANDBOX_ID, IDENTITY_VOLUME, TLS_CA_KEY, TLS_CERT_KEY, TLS_DIR, TLS_KEY_KEY, TLS_VOLUME, WORKDIR, var,
};
use crate::launcher;

pub const NETWORK_INIT_CONTAINER: &str = "openshell-network-init";
pub const NETWORK_CONTAINER: &str = "openshell-supervisor-network";
/// Shared between the network supervisor and the process supervisor: the control socket.
pub const STATE_VOLUME: &str = "openshell-sidecar-state";
pub const STATE_DIR: &str = "/run/openshell-sidecar";
pub const CONTROL_SOCKET: &str = "/run/openshell-sidecar/control.sock";
/// The proxy CA the network supervisor writes for the agent's children, and (in `client/`,
/// 0750 and owned by the proxy UID) the client TLS files network-init copies there.
pub const TLS_WORK_VOLUME: &str = "openshell-supervisor-tls";
pub const TLS_WORK_DIR: &str = "/etc/openshell-tls/proxy";
pub const SIDECAR_CLIENT_TLS_DIR: &str = "/etc/openshell-tls/proxy/client";
/// An abstract socket: scoped to the pod's network namespace, so the workload cannot unlink and
/// replace it in a shared directory.
pub const SIDECAR_SSH_SOCKET: &str = "@openshell-sidecar-ssh";
/// network-init: the pod's nftables (NET_ADMIN, NET_RAW), and handing the shared directories to
/// the proxy UID (CHOWN, FOWNER).
pub const NETWORK_INIT_CAPABILITIES: [&str; 4] = ["NET_ADMIN", "NET_RAW", "CHOWN", "FOWNER"];
/// The binary-aware network supervisor reads other UIDs' /proc entries.
pub const BINARY_AWARE_CAPABILITIES: [&str; 2] = ["SYS_PTRACE", "DAC_READ_SEARCH"];

pub mod sidecar_var {
    pub const SUPERVISOR_TOPOLOGY: &str = "OPENSHELL_SUPERVISOR_TOPOLOGY";
    pub const NETWORK_ENFORCEMENT_MODE: &str = "OPENSHELL_NETWORK_ENFORCEMENT_MODE";
    pub const SIDECAR_CONTROL_SOCKET: &str = "OPENSHELL_SIDECAR_CONTROL_SOCKET";
    pub const PROXY_TLS_DIR: &str = "OPENSHELL_PROXY_TLS_DIR";
    pub const NETWORK_BINARY_IDENTITY: &str = "OPENSHELL_NETWORK_BINARY_IDENTITY";
}

// What the setting renders; the flags and their startup checks are `config::topology`'s.
impl TopologyConfig {
    /// Every capability some container of a sandbox pod adds (what the SCC must allow).
    pub fn pod_capabilities(&self, combined: &[&'static str]) -> Vec<&'static str> {
        if !self.is_sidecar() {
            return combined.to_vec();
        }
        let mut caps = NETWORK_INIT_CAPABILITIES.to_vec();
        if self.sidecar_process_binary_aware_network_policy {
            caps.extend(BINARY_AWARE_CAPABILITIES);
        }
        caps
    }
}

/// The supervisor variables only the network supervisor gets: the gateway's address and the
/// credentials to reach it.
const NETWORK_ONLY: [&str; 6] = [
    var::ENDPOINT,
    var::TLS_CA,
    var::TLS_CERT,
    var::TLS_KEY,
    var::SANDBOX_TOKEN_FILE,
    var::K8S_SA_TOKEN_FILE,
];
/// What the network supervisor also needs from the agent's rendered variables.
const SHARED: [&str; 5] = [
    var::SANDBOX_ID,
    var::SANDBOX,
    var::LOG_LEVEL,
    var::SANDBOX_UID,
    var::SANDBOX_GID,
];
/// Volumes only the network supervisor mounts.
const NETWORK_ONLY_VOLUMES: [&str; 3] = [IDENTITY_VOLUME, TLS_VOLUME, PROXY_AUTH_VOLUME];

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn upsert(list: &mut Vec<EnvVar>, name: &str, value: &str) {
    list.retain(|e| e.name != name);
    list.push(env(name, value));
}

fn sidecar_env(list: &mut Vec<EnvVar>) {
    upsert(list, sidecar_var::SUPERVISOR_TOPOLOGY, "sidecar");
    upsert(list, sidecar_var::NETWORK_ENFORCEMENT_MODE, "sidecar-nftables");
    upsert(list, sidecar_var::SIDECAR_CONTROL_SOCKET, CONTROL_SOCKET);
    upsert(list, sidecar_var::PROXY_TLS_DIR, TLS_WORK_DIR);
    upsert(list, var::SSH_SOCKET_PATH, SIDECAR_SSH_SOCKET);
}

fn capabilities(add: &[&str]) -> Capabilities {
    Capabilities {
        add: (!add.is_empty()).then(|| add.iter().map(|c| c.to_string()).collect()),
        drop: Some(vec!["ALL".into()]),
    }
}

/// The ids the agent runs as: `--sandbox-uid/-gid`, else the supervisor's default.
fn ids(config: &DriverConfig) -> (u32, u32) {
    (
        config.sandbox_uid.unwrap_or(DEFAULT_SANDBOX_ID),
        config.sandbox_gid.unwrap_or(DEFAULT_SANDBOX_ID),
    )
}

/// Rewrites a rendered combined pod into the sidecar topology. `supervisor` and `launcher` are
/// where the agent finds the delivered binaries.
pub(crate) fn into_sidecar(pod: &mut PodSpec, config: &DriverConfig, supervisor: &str, launcher_path: &str) {
    let topo = &config.topology;
    let (uid, gid) = ids(config);
    let Some(agent) = pod.containers.iter_mut().find(|c| c.name == AGENT_CONTAINER) else {
        return;
    };
    let all_env = agent.env.take().unwrap_or_default();
    let mut network_env: Vec<EnvVar> = all_env
        .iter()
        .filter(|e| SHARED.contains(&e.name.as_str()) || NETWORK_ONLY.contains(&e.name.as_str()))
        .cloned()
        .collect();
    for (name, key) in [
        (var::TLS_CA, TLS_CA_KEY),
        (var::TLS_CERT, TLS_CERT_KEY),
        (var::TLS_KEY, TLS_KEY_KEY),
    ] {
        if network_env.iter().any(|e| e.name == name) {
            upsert(&mut network_env, name, &format!("{SIDECAR_CLIENT_TLS_DIR}/{key}"));
        }
    }
    upsert(&mut network_env, var::NETWORK_RUNTIME_CAPABILITIES, "");
    sidecar_env(&mut network_env);
    if !topo.sidecar_process_binary_aware_network_policy {
        upsert(&mut network_env, sidecar_var::NETWORK_BINARY_IDENTITY, "relaxed");
    }
    network_env.sort_by(|a, b| a.name.cmp(&b.name));

    let mut agent_env: Vec<EnvVar> = all_env
        .into_iter()
        .filter(|e| !NETWORK_ONLY.contains(&e.name.as_str()))
        .collect();
    sidecar_env(&mut agent_env);
    agent_env.sort_by(|a, b| a.name.cmp(&b.name));
    let keep: Vec<&str> = agent_env
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with(launcher::SUPERVISOR_PREFIX))
        .collect();
    agent.command = Some(vec![
        launcher_path.into(),
        launcher::KEEP_FLAG.into(),
        keep.join(","),
        "--".into(),
        supervisor.into(),
        "--mode=process".into(),
        "--workdir".into(),
        WORKDIR.into(),
    ]);
    agent.env = Some(agent_env);
    let app_armor = agent
        .security_context
        .as_ref()
        .and_then(|s| s.app_armor_profile.clone());
    agent.security_context = Some(SecurityContext {
        run_as_user: Some(i64::from(uid)),
        run_as_group: Some(i64::from(gid)),
        run_as_non_root: Some(true),
        privileged: Some(false),
        allow_privilege_escalation: Some(false),
        capabilities: Some(capabilities(&[])),
        app_armor_profile: app_armor.clone(),
        ..Default::default()
    });
    let mounts = agent.volume_mounts.get_or_insert_with(Vec::new);
    let moved: Vec<VolumeMount> = mounts
        .iter()
        .filter(|m| NETWORK_ONLY_VOLUMES.contains(&m.name.as_str()))
        .cloned()
        .collect();
    mounts.retain(|m| !NETWORK_ONLY_VOLUMES.contains(&m.name.as_str()));
    mounts.extend(shared_mounts());

    let network_uid = topo.network_uid();
    let network_caps: &[&str] = if topo.sidecar_process_binary_aware_network_policy {
        &BINARY_AWARE_CAPABILITIES
    } else {
        &[]
    };
    let mut network_command = vec![config.supervisor_binary_path.clone(), "--mode=network".into()];
    network_command.extend(config.proxy.supervisor_args());
    pod.containers.push(Container {
        name: NETWORK_CONTAINER.into(),
        image: Some(config.supervisor_image.clone()),
        image_pull_policy: pull_policy(config),
        command: Some(network_command),
        env: Some(network_env),
        security_context: Some(SecurityContext {
            run_as_user: Some(i64::from(network_uid)),
            run_as_group: Some(i64::from(gid)),
            run_as_non_root: Some(network_uid != 0),
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            capabilities: Some(capabilities(network_caps)),
            app_armor_profile: app_armor.clone(),
            ..Default::default()
        }),
        volume_mounts: Some([shared_mounts(), moved].concat()),
        ..Default::default()
    });

    let mut init_mounts = shared_mounts();
    if !config.client_tls_secret.is_empty() {
        init_mounts.push(mount(TLS_VOLUME, TLS_DIR, true));
    }
    pod.init_containers.get_or_insert_with(Vec::new).push(Container {
        name: NETWORK_INIT_CONTAINER.into(),
        image: Some(config.supervisor_image.clone()),
        image_pull_policy: pull_policy(config),
        command: Some(network_init_command(config, network_uid, gid)),
        security_context: Some(SecurityContext {
            run_as_user: Some(0),
            run_as_non_root: Some(false),
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            capabilities: Some(capabilities(&NETWORK_INIT_CAPABILITIES)),
            app_armor_profile: app_armor,
            ..Default::default()
        }),
        volume_mounts: Some(init_mounts),
        ..Default::default()
    });

    let volumes = pod.volumes.get_or_insert_with(Vec::new);
    group_readable(volumes);
    volumes.extend([empty_dir(STATE_VOLUME), empty_dir(TLS_WORK_VOLUME)]);
    pod.share_process_namespace = Some(true);
    pod.security_context
        .get_or_insert_with(PodSecurityContext::default)
        .fs_group = Some(i64::from(gid));
}

fn network_init_command(config: &DriverConfig, network_uid: u32, gid: u32) -> Vec<String> {
    vec![
        config.supervisor_binary_path.clone(),
        "--mode=network-init".into(),
        "--proxy-uid".into(),
        network_uid.to_string(),
        "--proxy-gid".into(),
        gid.to_string(),
        "--sidecar-state-dir".into(),
        STATE_DIR.into(),
        "--sidecar-tls-dir".into(),
        TLS_WORK_DIR.into(),
    ]
}

fn shared_mounts() -> Vec<VolumeMount> {
    vec![
        mount(STATE_VOLUME, STATE_DIR, false),
        mount(TLS_WORK_VOLUME, TLS_WORK_DIR, false),
    ]
}

/// The network supervisor may run as a non-root UID in the sandbox's group: its credential
/// volumes become 0440 (the pod's fsGroup owns them). The agent mounts none of them.
fn group_readable(volumes: &mut [Volume]) {
    for v in volumes
        .iter_mut()
        .filter(|v| NETWORK_ONLY_VOLUMES.contains(&v.name.as_str()))
    {
        if let Some(s) = v.secret.as_mut() {
            s.default_mode = Some(0o440);
        }
        if let Some(p) = v.projected.as_mut() {
            p.default_mode = Some(0o440);
        }
    }
}

/// The sandbox UID/GID the platform allotted (OpenShift's namespace range), applied to a pod
/// already in the sidecar topology: the agent's user, the network supervisor's group and
/// variables, network-init's `--proxy-gid`, and the pod's fsGroup.
pub fn reassign_ids(pod: &mut PodSpec, uid: Option<u32>, gid: Option<u32>) {
    let Some(network) = pod.containers.iter().position(|c| c.name == NETWORK_CONTAINER) else {
        return;
    };
    for c in pod.containers.iter_mut() {
        let sc = c.security_context.get_or_insert_with(SecurityContext::default);
        if c.name == AGENT_CONTAINER {
            sc.run_as_user = uid.map(i64::from).or(sc.run_as_user);
        }
        if c.name == AGENT_CONTAINER || c.name == NETWORK_CONTAINER {
            sc.run_as_group = gid.map(i64::from).or(sc.run_as_group);
        }
    }
    let env = pod.containers[network].env.get_or_insert_with(Vec::new);
    for (name, value) in [(var::SANDBOX_UID, uid), (var::SANDBOX_GID, gid)] {
        if let Some(id) = value {
            upsert(env, name, &id.to_string());
        }
    }
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(gid) = gid else { return };
    pod.security_context
        .get_or_insert_with(PodSecurityContext::default)
        .fs_group = Some(i64::from(gid));
    for init in pod
        .init_containers
        .iter_mut()
        .flatten()
        .filter(|c| c.name == NETWORK_INIT_CONTAINER)
    {
        if let Some(cmd) = init.command.as_mut()
            && let Some(i) = cmd.iter().position(|a| a == "--proxy-gid")
            && i + 1 < cmd.len()
        {
            cmd[i + 1] = gid.to_string();
        }
    }
}

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;
