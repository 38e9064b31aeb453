//! Tier 1: the sidecar topology, container by container.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::*;
use crate::config::DriverConfig;
use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
use crate::proto::*;

fn request() -> DriverSandbox {
    DriverSandbox {
        id: "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01".into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/bash".into()],
            environment: HashMap::from([("FROM_SPEC".into(), "spec".into())]),
            template: Some(DriverSandboxTemplate {
                image: "quay.io/example/agent:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn config(topology: Topology, binary_aware: bool) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.gateway_endpoint = "https://gateway.openshell-system.svc:8443".into();
    c.client_tls_secret = "openshell-client-tls".into();
    c.topology.topology = topology;
    c.topology.sidecar_process_binary_aware_network_policy = binary_aware;
    c
}

fn pod(c: &DriverConfig) -> PodSpec {
    render_sandbox(&request(), c, SandboxApiVersion::V1beta1, &[])
        .expect("renders")
        .manifest
        .spec
        .pod_template
        .spec
}

fn container<'a>(list: &'a [Container], name: &str) -> &'a Container {
    list.iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env_of(c: &Container) -> HashMap<String, String> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn mounts_of(c: &Container) -> Vec<String> {
    c.volume_mounts.iter().flatten().map(|m| m.name.clone()).collect()
}

fn caps(c: &Container) -> (Vec<String>, Vec<String>) {
    let caps = c
        .security_context
        .as_ref()
        .and_then(|s| s.capabilities.clone())
        .unwrap_or_default();
    (caps.add.unwrap_or_default(), caps.drop.unwrap_or_default())
}

#[test]
fn combined_is_the_default_and_renders_no_sidecar() {
    let c = DriverConfig::defaults();
    assert_eq!(c.topology.topology, Topology::Combined);
    assert_eq!(c.topology.sidecar_proxy_uid, DEFAULT_PROXY_UID);
    assert!(c.topology.sidecar_process_binary_aware_network_policy);
    let p = pod(&config(Topology::Combined, true));
    assert_eq!(p.containers.len(), 1);
    assert_eq!(p.share_process_namespace, None);
    let agent = container(&p.containers, "agent");
    assert_eq!(caps(agent).0, ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"]);
    assert!(!env_of(agent).contains_key(sidecar_var::SUPERVISOR_TOPOLOGY));
}

#[test]
fn sidecar_agent_runs_as_the_sandbox_user_with_no_capabilities_and_no_credentials() {
    let p = pod(&config(Topology::Sidecar, true));
    let agent = container(&p.containers, "agent");
    let sc = agent.security_context.clone().unwrap();
    assert_eq!(
        (sc.run_as_user, sc.run_as_group, sc.run_as_non_root),
        (Some(1000), Some(1000), Some(true))
    );
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(caps(agent), (vec![], vec!["ALL".to_string()]));
    let env = env_of(agent);
    for gone in [
        var::ENDPOINT,
        var::TLS_CA,
        var::TLS_CERT,
        var::TLS_KEY,
        var::K8S_SA_TOKEN_FILE,
    ] {
        assert!(!env.contains_key(gone), "{gone} must not reach the agent");
    }
    assert_eq!(env[sidecar_var::SUPERVISOR_TOPOLOGY], "sidecar");
    assert_eq!(env[sidecar_var::NETWORK_ENFORCEMENT_MODE], "sidecar-nftables");
    assert_eq!(env[sidecar_var::SIDECAR_CONTROL_SOCKET], CONTROL_SOCKET);
    assert_eq!(env[var::SSH_SOCKET_PATH], SIDECAR_SSH_SOCKET);
    assert!(env.contains_key(var::MAIN_PROCESS_SPEC));
    let mounts = mounts_of(agent);
    for gone in [IDENTITY_VOLUME, TLS_VOLUME] {
        assert!(
            !mounts.contains(&gone.to_string()),
            "{gone} must not be mounted in the agent"
        );
    }
    assert!(mounts.contains(&STATE_VOLUME.to_string()) && mounts.contains(&TLS_WORK_VOLUME.to_string()));
    // The launcher keeps exactly the agent's OPENSHELL_* variables; the supervisor is process-only.
    let cmd = agent.command.clone().unwrap();
    assert!(cmd[2].contains(sidecar_var::SIDECAR_CONTROL_SOCKET) && !cmd[2].contains(var::ENDPOINT));
    assert_eq!(cmd[5..], ["--mode=process", "--workdir", "/sandbox"]);
    assert_eq!(p.share_process_namespace, Some(true));
    assert_eq!(p.security_context.unwrap().fs_group, Some(1000));
}

/// (binary-aware, network UID, runAsNonRoot, network capabilities, relaxed variable)
type Case = (bool, i64, bool, &'static [&'static str], Option<&'static str>);

#[test]
fn network_container_and_init_container_per_binary_identity_mode() {
    // (binary-aware, network UID, runAsNonRoot, network capabilities, relaxed variable)
    let cases: [Case; 2] = [
        (true, 0, false, &BINARY_AWARE_CAPABILITIES, None),
        (false, 1337, true, &[], Some("relaxed")),
    ];
    for (aware, uid, non_root, want_caps, relaxed) in cases {
        let p = pod(&config(Topology::Sidecar, aware));
        let net = container(&p.containers, NETWORK_CONTAINER);
        assert_eq!(
            net.image.as_deref(),
            Some(DriverConfig::defaults().supervisor_image.as_str())
        );
        assert_eq!(net.command.clone().unwrap(), ["/openshell-sandbox", "--mode=network"]);
        let sc = net.security_context.clone().unwrap();
        assert_eq!(
            (sc.run_as_user, sc.run_as_non_root),
            (Some(uid), Some(non_root)),
            "aware={aware}"
        );
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(caps(net).0, want_caps, "aware={aware}");
        let env = env_of(net);
        assert_eq!(env[var::ENDPOINT], "https://gateway.openshell-system.svc:8443");
        assert_eq!(env[var::TLS_KEY], format!("{SIDECAR_CLIENT_TLS_DIR}/tls.key"));
        assert_eq!(env[var::K8S_SA_TOKEN_FILE], "/var/run/secrets/openshell/token");
        assert_eq!(
            env.get(sidecar_var::NETWORK_BINARY_IDENTITY).map(String::as_str),
            relaxed
        );
        assert!(!env.contains_key(var::MAIN_PROCESS_SPEC) && !env.contains_key("FROM_SPEC"));
        assert!(mounts_of(net).contains(&IDENTITY_VOLUME.to_string()));
        let init = container(p.init_containers.as_deref().unwrap(), NETWORK_INIT_CONTAINER);
        let cmd = init.command.clone().unwrap();
        assert_eq!(
            cmd[1..6],
            [
                "--mode=network-init",
                "--proxy-uid",
                &uid.to_string(),
                "--proxy-gid",
                "1000"
            ]
        );
        assert_eq!(caps(init).0, NETWORK_INIT_CAPABILITIES);
        assert!(mounts_of(init).contains(&TLS_VOLUME.to_string()));
        for v in p
            .volumes
            .iter()
            .flatten()
            .filter(|v| v.name == IDENTITY_VOLUME || v.name == TLS_VOLUME)
        {
            let mode = v.secret.as_ref().and_then(|s| s.default_mode);
            let mode = mode.or(v.projected.as_ref().and_then(|s| s.default_mode));
            assert_eq!(mode, Some(0o440), "{}", v.name);
        }
    }
}

#[test]
fn proxy_arguments_go_to_the_network_supervisor() {
    let mut c = config(Topology::Sidecar, true);
    c.proxy.https_proxy = "http://proxy.corp:3128".into();
    c.proxy.proxy_auth_secret_name = "proxy".into();
    c.proxy.proxy_auth_secret_key = "auth".into();
    c.proxy.proxy_auth_allow_insecure = true;
    let p = pod(&c);
    let net = container(&p.containers, NETWORK_CONTAINER);
    assert!(net.command.clone().unwrap().contains(&"--upstream-proxy".to_string()));
    assert!(mounts_of(net).contains(&PROXY_AUTH_VOLUME.to_string()));
    let agent = container(&p.containers, "agent");
    assert!(
        !agent
            .command
            .clone()
            .unwrap()
            .iter()
            .any(|a| a.starts_with("--upstream"))
    );
    assert!(!mounts_of(agent).contains(&PROXY_AUTH_VOLUME.to_string()));
}

#[test]
fn reassigned_ids_reach_every_container_that_uses_them() {
    let mut p = pod(&config(Topology::Sidecar, false));
    reassign_ids(&mut p, Some(1000680000), Some(1000680001));
    let agent = container(&p.containers, "agent").security_context.clone().unwrap();
    assert_eq!(
        (agent.run_as_user, agent.run_as_group),
        (Some(1000680000), Some(1000680001))
    );
    let net = container(&p.containers, NETWORK_CONTAINER);
    assert_eq!(net.security_context.clone().unwrap().run_as_user, Some(1337));
    assert_eq!(env_of(net)[var::SANDBOX_UID], "1000680000");
    let init = container(p.init_containers.as_deref().unwrap(), NETWORK_INIT_CONTAINER);
    assert_eq!(init.command.clone().unwrap()[5], "1000680001");
    assert_eq!(p.security_context.unwrap().fs_group, Some(1000680001));
    // A combined pod is left as it was.
    let mut combined = pod(&config(Topology::Combined, true));
    let before = combined.clone();
    reassign_ids(&mut combined, Some(1), Some(2));
    assert_eq!(combined, before);
}

#[test]
fn bad_settings_are_refused_naming_the_flag() {
    for (raw, ok) in [
        ("1337", true),
        ("1000", true),
        ("999", false),
        ("0", false),
        ("x", false),
    ] {
        assert_eq!(parse_proxy_uid(raw).is_ok(), ok, "{raw}");
    }
    let mut c = config(Topology::Sidecar, false);
    c.topology.sidecar_proxy_uid = 1000;
    let err = crate::kubernetes::settings::check_settings(&c).unwrap_err();
    assert!(err.contains("--sidecar-proxy-uid 1000"), "{err}");
    // Binary-aware runs the network supervisor as root: the proxy UID is unused.
    c.topology.sidecar_process_binary_aware_network_policy = true;
    assert!(crate::kubernetes::settings::check_settings(&c).is_ok());
}

#[test]
fn pod_capabilities_are_what_the_scc_must_allow() {
    let combined = crate::kubernetes::supervisor::AGENT_CAPABILITIES;
    let cases: [(Topology, bool, &[&str]); 3] = [
        (Topology::Combined, true, &combined),
        (
            Topology::Sidecar,
            true,
            &[
                "NET_ADMIN",
                "NET_RAW",
                "CHOWN",
                "FOWNER",
                "SYS_PTRACE",
                "DAC_READ_SEARCH",
            ],
        ),
        (Topology::Sidecar, false, &["NET_ADMIN", "NET_RAW", "CHOWN", "FOWNER"]),
    ];
    for (topology, aware, want) in cases {
        let c = config(topology, aware);
        assert_eq!(c.topology.pod_capabilities(&combined), want, "{topology:?} {aware}");
    }
}

#[test]
fn flags_and_env_parse() {
    use clap::Parser;
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        t: TopologyConfig,
    }
    let parsed = Only::try_parse_from([
        "d",
        "--topology",
        "sidecar",
        "--sidecar-proxy-uid",
        "2000",
        "--sidecar-process-binary-aware-network-policy",
        "false",
    ])
    .unwrap();
    assert_eq!(parsed.t.topology, Topology::Sidecar);
    assert_eq!(parsed.t.sidecar_proxy_uid, 2000);
    assert!(!parsed.t.sidecar_process_binary_aware_network_policy);
    let err = Only::try_parse_from(["d", "--topology", "split"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--topology"), "{err}");
    let err = Only::try_parse_from(["d", "--sidecar-proxy-uid", "5"])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--sidecar-proxy-uid"), "{err}");
}
