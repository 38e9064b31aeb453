//! Tier 3: the supervisor's delivery on a real API server (1.36): `auto` and `image-volume`
//! store image volumes and no init container, `init-container` stores the copy; `check` says
//! which and why; and the feature gate is read from the real `/metrics` as the 1.33-1.35 path does.

mod common;

use common::tier3::Env;
use common::*;
use k8s_openapi::api::core::v1::PodSpec;
use openshell_driver_openshift::kubernetes::client::KubeCalls;
use openshell_driver_openshift::kubernetes::sideload::GateState;
use openshell_driver_openshift::metrics::NoopMetrics;

async fn stored_pod_spec(env: &Env, name: &str) -> PodSpec {
    env.stored_pod(name).await.spec.expect("spec")
}

fn agent_command(spec: &PodSpec) -> Vec<String> {
    let agent = spec.containers.iter().find(|c| c.name == "agent").expect("agent");
    agent.command.clone().expect("command")
}

/// (volume name, image reference) of every image volume.
fn image_volumes(spec: &PodSpec) -> Vec<(String, String)> {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| Some((v.name.clone(), v.image.as_ref()?.reference.clone()?)))
        .collect()
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn auto_and_image_volume_store_the_images_as_volumes_without_init_containers() {
    for args in [&[][..], &["--supervisor-sideload", "image-volume"][..]] {
        let env = Env::start_with(None, args).await;
        let id = new_id();
        env.create(&id, "mounted").await;
        let spec = stored_pod_spec(&env, "default--mounted").await;
        assert!(spec.init_containers.as_ref().is_none_or(Vec::is_empty), "{args:?}");
        let volumes = image_volumes(&spec);
        let names: Vec<&str> = volumes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["openshell-supervisor", "openshell-launcher"], "{args:?}");
        assert!(volumes[0].1.contains("supervisor"), "{volumes:?}");
        let command = agent_command(&spec);
        assert_eq!(command[0], "/opt/openshell/bin/launcher/openshell-launcher");
        assert_eq!(command[4], "/opt/openshell/bin/supervisor/openshell-sandbox");
        env.wait_ready(&id).await;
        assert!(env.driver.log().contains("supervisor delivery"), "the choice is logged");
    }
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn init_container_stores_the_copy_into_an_empty_dir() {
    let env = Env::start_with(None, &["--supervisor-sideload", "init-container"]).await;
    let id = new_id();
    env.create(&id, "copied").await;
    let spec = stored_pod_spec(&env, "default--copied").await;
    assert!(image_volumes(&spec).is_empty());
    let init: Vec<_> = spec.init_containers.iter().flatten().map(|c| c.name.as_str()).collect();
    assert_eq!(init, ["openshell-supervisor-install", "openshell-launcher-install"]);
    let volume = spec
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "openshell-supervisor")
        .expect("volume");
    assert!(volume.empty_dir.is_some());
    let command = agent_command(&spec);
    assert_eq!(command[0], "/opt/openshell/bin/openshell-launcher");
    assert_eq!(command[4], "/opt/openshell/bin/openshell-sandbox");
    env.wait_ready(&id).await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn check_reports_the_delivery_and_why() {
    let env = Env::start().await;
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.namespace));
    for (args, want) in [
        (&[][..], "image-volume: auto: Kubernetes 1.36: ImageVolume is GA"),
        (
            &["--supervisor-sideload", "init-container"][..],
            "init-container: chosen by --supervisor-sideload",
        ),
        (
            &["--supervisor-sideload", "image-volume"][..],
            "image-volume: chosen by --supervisor-sideload; Kubernetes 1.36",
        ),
    ] {
        let mut all = vec!["--namespace", env.namespace.as_str()];
        all.extend_from_slice(args);
        let (_, lines) = run_check(&kubeconfig, &all);
        let line = lines
            .iter()
            .find(|(c, _, _)| c == "supervisor-sideload")
            .unwrap_or_else(|| panic!("no supervisor-sideload line: {lines:?}"));
        assert_eq!(line.1, "pass", "{line:?}");
        assert!(line.2.starts_with(want), "{line:?}");
    }
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn the_feature_gate_reads_from_the_real_api_servers_metrics() {
    let cluster = common::cluster::Cluster::from_env();
    let kube = KubeCalls {
        client: cluster.client().await,
        timeout: std::time::Duration::from_secs(10),
        metrics: std::sync::Arc::new(NoopMetrics),
    };
    // GA in 1.36, so the series reads 1: the same parse 1.33-1.35 rely on.
    assert_eq!(kube.image_volume_gate().await, GateState::On);
    let facts = kube.api_server_facts().await.expect("facts");
    assert_eq!(facts.version.map(|v| v.0), Some(1));
    assert!(facts.version.is_some_and(|v| v.1 >= 36), "{facts:?}");
}
