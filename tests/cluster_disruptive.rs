//! Tier 3, disruptive: these restart the API server and remove the Sandbox CRD, so they run
//! alone, one after the other (`--test-threads=1`, in name order), after tests/cluster_kubernetes.rs.

mod common;

use std::process::Command;
use std::time::Duration;

use common::cluster::{Cluster, unique_namespace};
use common::*;
use openshell_driver_openshift::proto::*;

const WITHIN: Duration = Duration::from_secs(90);
/// After an API server restart every client of the chain (the agent-sandbox controller, the
/// scheduler, kwok, the driver) relists with client-go's backoff, up to 30 s each, after an API
/// server that takes tens of seconds to start on a loaded machine: the changes must arrive, in
/// their time.
const AFTER_RESTART: Duration = Duration::from_secs(240);

fn cluster_dir() -> String {
    std::env::var("CLUSTER_DIR")
        .expect("CLUSTER_DIR: the directory of hack/cluster/up.sh (make test-integration sets it)")
}

async fn restricted_driver(cluster: &Cluster, namespace: &str, dir: &std::path::Path) -> DriverProcess {
    cluster.create_namespace(namespace);
    let kubeconfig = cluster.driver_identity(namespace, dir, None);
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    DriverProcess::start(
        &["--namespace", namespace, "--gateway-id", namespace],
        &[("KUBECONFIG", &kubeconfig)],
    )
    .await
}

async fn create_when_possible(driver: &DriverProcess, id: &str, name: &str, within: Duration) {
    eventually(within, "a create accepted", || async {
        let mut client = driver.client().await;
        client
            .create_sandbox(CreateSandboxRequest {
                sandbox: Some(sandbox_request(id, name)),
            })
            .await
            .ok()
    })
    .await;
}

/// What the cluster holds for a failed assertion: which part of the chain (controller, scheduler,
/// kwok) did not resume after the restart.
fn cluster_state(cluster: &Cluster, namespace: &str) -> String {
    let objects = cluster
        .try_kubectl(&["get", "sandbox,pod", "-n", namespace, "-o", "yaml"], None)
        .unwrap_or_else(|e| e);
    let events = cluster
        .try_kubectl(&["get", "events", "-n", namespace], None)
        .unwrap_or_else(|e| e);
    let logs: String = ["agent-sandbox-controller", "kube-scheduler", "kwok"]
        .iter()
        .map(|name| {
            let path = format!("{}/logs/{name}.log", cluster_dir());
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {path} (last 30 lines)\n{}\n", tail.join("\n"))
        })
        .collect();
    format!("{objects}\n{events}\n{logs}")
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_watch_stream_survives_an_api_server_restart_without_losing_changes() {
    let cluster = Cluster::from_env();
    let namespace = unique_namespace("t3r");
    let dir = tempfile::tempdir().expect("tempdir");
    let driver = restricted_driver(&cluster, &namespace, dir.path()).await;
    let (a, b) = (new_id(), new_id());
    create_when_possible(&driver, &a, "before-a", WITHIN).await;
    create_when_possible(&driver, &b, "before-b", WITHIN).await;
    let mut client = driver.client().await;
    let mut watch = Events::open(&mut client).await;
    // Both in one pass: the replay comes in id order, so waiting for one id at a time would
    // throw away the other's event when it comes first.
    let ready = std::cell::RefCell::new(std::collections::HashSet::new());
    watch
        .until(WITHIN, |e| {
            if let Some(s) = snapshot_of(e).filter(|s| is_ready(s)) {
                ready.borrow_mut().insert(s.id.clone());
            }
            let seen = ready.borrow();
            seen.contains(&a) && seen.contains(&b)
        })
        .await
        .expect("both Ready before the restart");

    let status = Command::new("bash")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/hack/cluster/restart-apiserver.sh"),
            &cluster_dir(),
            "3",
        ])
        .status()
        .expect("restart script");
    assert!(status.success(), "API server restarted");
    let restarted = std::time::Instant::now();
    // Changes right after the restart, while the driver's watch is still reconnecting.
    cluster.kubectl(
        &[
            "delete",
            "sandbox",
            "default--before-a",
            "-n",
            &namespace,
            "--wait=false",
        ],
        None,
    );
    let c = new_id();
    create_when_possible(&driver, &c, "after-c", AFTER_RESTART).await;
    eprintln!(
        "the create after the restart accepted {:?} after it",
        restarted.elapsed()
    );

    let deleted = watch.until(AFTER_RESTART, |e| deleted_id(e) == Some(a.as_str())).await;
    eprintln!(
        "the deletion reached the stream {:?} after the restart",
        restarted.elapsed()
    );
    assert!(
        deleted.is_some(),
        "the deletion during the reconnect reached the same stream; log:\n{}",
        driver.log()
    );
    let ready = watch
        .until(AFTER_RESTART, |e| {
            snapshot_of(e).is_some_and(|s| s.id == c && is_ready(s))
        })
        .await;
    eprintln!(
        "the new sandbox Ready on the stream {:?} after the restart",
        restarted.elapsed()
    );
    assert!(
        ready.is_some(),
        "the sandbox created after the restart reached the same stream; cluster:\n{}\nlog:\n{}",
        cluster_state(&cluster, &namespace),
        driver.log()
    );
    let list = list_all(&mut client).await.expect("list");
    let mut ids: Vec<_> = list.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    let mut want = vec![b.clone(), c.clone()];
    want.sort();
    assert_eq!(ids, want);
    let _ = cluster.try_kubectl(&["delete", "namespace", &namespace, "--wait=false"], None);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn b_missing_crd_is_failed_precondition_until_it_is_installed() {
    let cluster = Cluster::from_env();
    let crds = std::env::var("AGENT_SANDBOX_CRDS").expect("AGENT_SANDBOX_CRDS (make test-integration sets it)");
    cluster.kubectl(
        &[
            "delete",
            "crd",
            "sandboxes.agents.x-k8s.io",
            "--wait=true",
            "--timeout=60s",
        ],
        None,
    );
    let namespace = unique_namespace("t3c");
    let dir = tempfile::tempdir().expect("tempdir");
    let driver = restricted_driver(&cluster, &namespace, dir.path()).await;
    let mut client = driver.client().await;

    let (ok, lines) = run_check(
        &dir.path().join(format!("driver-{namespace}.kubeconfig")),
        &["--namespace", &namespace],
    );
    assert!(!ok, "check fails without the CRD");
    assert_eq!(verdict_of(&lines, "sandbox-crd"), Some("fail"), "{lines:?}");
    assert_eq!(verdict_of(&lines, "api-server"), Some("pass"));

    // The gateway can still start: capabilities answer.
    let caps = capabilities(&mut client).await;
    assert_eq!(caps.driver_name, "openshift");
    let err = client
        .list_sandboxes(ListSandboxesRequest {})
        .await
        .expect_err("no CRD");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{}", err.message());
    assert!(
        err.message().contains("sandboxes.agents.x-k8s.io") && err.message().contains("install"),
        "{}",
        err.message()
    );
    let create = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&new_id(), "early")),
        })
        .await
        .expect_err("no CRD");
    assert_eq!(create.code(), tonic::Code::FailedPrecondition);

    cluster.kubectl(&["apply", "--server-side", "-f", &crds], None);
    // Right after the apply the CRD may have no conditions yet, which `kubectl wait` treats as
    // an error rather than "not yet": retry it.
    let established = [
        "wait",
        "--for=condition=Established",
        "crd/sandboxes.agents.x-k8s.io",
        "--timeout=5s",
    ];
    eventually(WITHIN, "the CRD Established", || async {
        cluster.try_kubectl(&established, None).ok()
    })
    .await;
    eventually(WITHIN, "the driver to find the CRD", || {
        let mut client = client.clone();
        async move { client.list_sandboxes(ListSandboxesRequest {}).await.ok() }
    })
    .await;
    let id = new_id();
    create_when_possible(&driver, &id, "late", WITHIN).await;
    let got = eventually(WITHIN, "the new sandbox in the cache", || {
        let mut client = client.clone();
        let id = id.clone();
        async move { client.get_sandbox(get_request(&id)).await.ok() }
    })
    .await
    .into_inner()
    .sandbox;
    assert_eq!(got.expect("sandbox").name, "late");
    let _ = cluster.try_kubectl(&["delete", "namespace", &namespace, "--wait=false"], None);
}
