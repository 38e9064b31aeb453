//! Tier 3: the sidecar topology (`--topology sidecar`) as the API server stores the controller's
//! Pod: the network supervisor in its own container, the agent non-root with no capabilities.

mod common;

use common::tier3::Env;
use common::*;
use k8s_openapi::api::core::v1::Container;

fn named<'a>(list: &'a [Container], name: &str) -> &'a Container {
    list.iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("stored pod has no container {name}"))
}

fn caps(c: &Container) -> (Vec<String>, Vec<String>) {
    let caps = c
        .security_context
        .as_ref()
        .and_then(|s| s.capabilities.clone())
        .unwrap_or_default();
    (caps.add.unwrap_or_default(), caps.drop.unwrap_or_default())
}

fn env_names(c: &Container) -> Vec<String> {
    c.env.iter().flatten().map(|e| e.name.clone()).collect()
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn sidecar_topology_splits_network_supervision_out_of_the_agent() {
    let env = Env::start_with(None, &["--topology", "sidecar"]).await;
    let id = new_id();
    env.create(&id, "split").await;
    let pod = env.stored_pod("default--split").await;
    let spec = pod.spec.expect("pod spec");
    assert_eq!(spec.share_process_namespace, Some(true));
    assert_eq!(spec.security_context.and_then(|s| s.fs_group), Some(1000));

    let agent = named(&spec.containers, "agent");
    let sc = agent.security_context.clone().expect("agent securityContext");
    assert_eq!((sc.run_as_user, sc.run_as_non_root), (Some(1000), Some(true)));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(caps(agent), (vec![], vec!["ALL".to_string()]));
    let agent_env = env_names(agent);
    assert!(agent_env.contains(&"OPENSHELL_SIDECAR_CONTROL_SOCKET".to_string()));
    for gone in ["OPENSHELL_ENDPOINT", "OPENSHELL_K8S_SA_TOKEN_FILE"] {
        assert!(!agent_env.contains(&gone.to_string()), "{gone} reached the agent");
    }
    let agent_mounts: Vec<_> = agent.volume_mounts.iter().flatten().map(|m| m.name.as_str()).collect();
    assert!(!agent_mounts.contains(&"openshell-identity"), "{agent_mounts:?}");
    let command = agent.command.clone().unwrap_or_default();
    assert!(command.contains(&"--mode=process".to_string()), "{command:?}");

    let network = named(&spec.containers, "openshell-supervisor-network");
    assert_eq!(network.command.clone().unwrap_or_default()[1], "--mode=network");
    assert_eq!(caps(network).0, ["SYS_PTRACE", "DAC_READ_SEARCH"]);
    assert!(env_names(network).contains(&"OPENSHELL_ENDPOINT".to_string()));
    let network_mounts: Vec<_> = network
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    assert!(network_mounts.contains(&"openshell-identity"), "{network_mounts:?}");

    let inits = spec.init_containers.unwrap_or_default();
    let init = named(&inits, "openshell-network-init");
    assert_eq!(caps(init).0, ["NET_ADMIN", "NET_RAW", "CHOWN", "FOWNER"]);
    assert_eq!(init.security_context.as_ref().and_then(|s| s.run_as_user), Some(0));
    env.wait_ready(&id).await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn relaxed_sidecar_runs_the_network_supervisor_as_the_proxy_uid() {
    let flags = [
        "--topology",
        "sidecar",
        "--sidecar-process-binary-aware-network-policy",
        "false",
        "--sidecar-proxy-uid",
        "2000",
    ];
    let env = Env::start_with(None, &flags).await;
    let id = new_id();
    env.create(&id, "relaxed").await;
    let pod = env.stored_pod("default--relaxed").await;
    let spec = pod.spec.expect("pod spec");
    let network = named(&spec.containers, "openshell-supervisor-network");
    let sc = network.security_context.clone().expect("securityContext");
    assert_eq!((sc.run_as_user, sc.run_as_non_root), (Some(2000), Some(true)));
    assert_eq!(caps(network), (vec![], vec!["ALL".to_string()]));
    let relaxed = network
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "OPENSHELL_NETWORK_BINARY_IDENTITY");
    assert_eq!(relaxed.and_then(|e| e.value.as_deref()), Some("relaxed"));
    let inits = spec.init_containers.unwrap_or_default();
    let init = named(&inits, "openshell-network-init");
    assert!(
        init.command
            .clone()
            .unwrap_or_default()
            .windows(2)
            .any(|w| w == ["--proxy-uid", "2000"])
    );
}
