//! Tier 3: the pod's extra volumes as the API server stores them on the controller's Pod: the
//! SPIFFE Workload API socket (issue #12 item 7). The SPIFFE CSI driver is not installed here:
//! the API server stores a CSI volume without it (only a kubelet would wait for it), and `check`
//! tells the two apart by the CSIDriver object.

mod common;

use common::tier3::Env;
use common::*;

const SOCKET: &str = "/spiffe-workload-api/spire-agent.sock";

const CSI_DRIVER: &str = r#"apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: csi.spiffe.io
spec:
  attachRequired: false
  podInfoOnMount: true
  volumeLifecycleModes: [Ephemeral]
"#;

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn the_spiffe_socket_is_a_read_only_csi_volume_and_the_supervisors_variable() {
    let env = Env::start_with(None, &["--provider-spiffe-socket", SOCKET]).await;
    let id = new_id();
    env.create(&id, "spiffe").await;
    let pod = env.stored_pod("default--spiffe").await;
    let spec = pod.spec.expect("spec");
    let csi = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "spiffe-workload-api")
        .and_then(|v| v.csi)
        .expect("the CSI volume stored");
    assert_eq!((csi.driver.as_str(), csi.read_only), ("csi.spiffe.io", Some(true)));
    let agent = &spec.containers[0];
    let mount = agent
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.name == "spiffe-workload-api")
        .expect("mounted");
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        ("/spiffe-workload-api", Some(true))
    );
    let var = agent
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET")
        .expect("the supervisor's variable");
    assert_eq!(var.value.as_deref(), Some(SOCKET));

    // `check`: no CSIDriver, a failure; once installed, a pass.
    let flags = [
        "--namespace",
        env.namespace.as_str(),
        "--provider-spiffe-socket",
        SOCKET,
    ];
    env.cluster
        .try_kubectl(&["delete", "csidriver", "csi.spiffe.io", "--ignore-not-found"], None)
        .expect("no CSIDriver");
    let (ok, lines) = run_check(&env.cluster.kubeconfig, &flags);
    assert!(!ok);
    assert_eq!(verdict_of(&lines, "provider-spiffe"), Some("fail"), "{lines:?}");
    env.cluster.kubectl(&["apply", "-f", "-"], Some(CSI_DRIVER));
    let (_, lines) = run_check(&env.cluster.kubeconfig, &flags);
    env.cluster.kubectl(&["delete", "csidriver", "csi.spiffe.io"], None);
    assert_eq!(verdict_of(&lines, "provider-spiffe"), Some("pass"), "{lines:?}");
    // Without the flag there is no such line.
    let (_, lines) = run_check(&env.cluster.kubeconfig, &flags[..2]);
    assert_eq!(verdict_of(&lines, "provider-spiffe"), None, "{lines:?}");
}
