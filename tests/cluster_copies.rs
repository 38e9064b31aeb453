//! Tier 3, the Secrets managed mode copies into its workspace namespaces (the client TLS and
//! image-pull Secrets): copied, kept equal to their sources by a watch, removed with them, under
//! exactly `deploy/rbac-managed.yaml`, against the same real API server and controller as
//! `cluster_kubernetes.rs`.

mod common;

use std::time::Duration;

use common::cluster::{CLIENT_TLS_SECRET, Cluster};
use common::tier3::{ManagedEnv, READY_WITHIN};
use common::*;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, ListParams};
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::*;

/// How long a source's change may take to reach its copies.
const PICKED_UP_WITHIN: Duration = Duration::from_secs(20);

/// The image-pull Secret tier 3 copies (the name deploy/rbac-managed.yaml may read and write).
const PULL_SECRET: &str = "openshell-image-pull";

fn apply_pull_secret(cluster: &Cluster, namespace: &str, auth: &str) {
    let config = serde_json::json!({"auths": {"registry.test": {"auth": auth}}}).to_string();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": PULL_SECRET, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    });
    cluster.kubectl(&["apply", "-f", "-"], Some(&secret.to_string()));
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn managed_mode_copies_secrets_into_its_namespaces_and_keeps_them_current() {
    let env = ManagedEnv::start_with("t3mc", &["--image-pull-secrets", PULL_SECRET], |cluster, home| {
        apply_pull_secret(cluster, home, "djE=")
    })
    .await;
    let kube = env.cluster.client().await;
    let mut client = env.driver.client().await;
    let secrets_in = |ns: &str| -> Api<Secret> { Api::namespaced(kube.clone(), ns) };
    let (ns_a, ns_b) = (format!("{}a", env.prefix), format!("{}b", env.prefix));
    let source = |name: &str| {
        let api = secrets_in(&env.home);
        let name = name.to_string();
        async move { api.get(&name).await.expect("source") }
    };

    // EnsureWorkspace and CreateSandbox both leave the copies in the namespace they make.
    client
        .ensure_workspace(EnsureWorkspaceRequest { workspace: "a".into() })
        .await
        .expect("ensure");
    let id = new_id();
    let mut sandbox = sandbox_request(&id, "worker");
    sandbox.workspace = "b".into();
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect("create");
    wait_until_ready(&client, &id, READY_WITHIN).await;
    for ns in [&ns_a, &ns_b] {
        for name in [PULL_SECRET, CLIENT_TLS_SECRET] {
            let copy = secrets_in(ns)
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("{name} in {ns}: {e}"));
            let want = source(name).await;
            assert_eq!((&copy.type_, &copy.data), (&want.type_, &want.data), "{name} in {ns}");
            let labels = copy.metadata.labels.clone().unwrap_or_default();
            assert_eq!(labels.get("openshell.ai/copy-of").map(String::as_str), Some(name));
            assert_eq!(labels.get("openshell.ai/gateway-id"), Some(&env.home));
        }
    }
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(kube.clone(), &ns_b);
    let pod = eventually(READY_WITHIN, "the sandbox pod", || async {
        pods.get_opt("worker").await.ok().flatten()
    })
    .await;
    let pull: Vec<String> = pod
        .spec
        .and_then(|s| s.image_pull_secrets)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(pull, [PULL_SECRET], "the pod pulls with the copy in its own namespace");

    // `check` asks about each copied Secret by name, and the documented RBAC grants them all.
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.home));
    let args = [
        "--workspace-mode",
        "managed",
        "--namespace",
        &env.home,
        "--gateway-endpoint",
        "https://gateway.test:8443",
        "--client-tls-secret",
        CLIENT_TLS_SECRET,
        "--image-pull-secrets",
        PULL_SECRET,
    ];
    let (ok, lines) = run_check(&kubeconfig, &args);
    assert!(ok, "check passes: {lines:?}");
    for verb in ["get", "list", "watch", "update", "delete"] {
        for name in [PULL_SECRET, CLIENT_TLS_SECRET] {
            let check = format!("permission {verb} secrets cluster-wide ({name})");
            assert_eq!(verdict_of(&lines, &check), Some("pass"), "{check}: {lines:?}");
        }
    }
    assert!(verdict_of(&lines, "workspace-mode").is_some(), "{lines:?}");

    // A changed source reaches every copy, with no create in between (the source watch).
    apply_pull_secret(&env.cluster, &env.home, "djI=");
    env.cluster
        .apply_client_tls_secret(&env.home, &["ca.crt", "tls.crt", "tls.key", "rotated"]);
    let want_pull = source(PULL_SECRET).await.data;
    for ns in [&ns_a, &ns_b] {
        eventually(
            PICKED_UP_WITHIN,
            &format!("the copies in {ns} follow their sources"),
            || {
                let api = secrets_in(ns);
                let want_pull = want_pull.clone();
                async move {
                    let pull = api.get(PULL_SECRET).await.ok()?;
                    let tls = api.get(CLIENT_TLS_SECRET).await.ok()?;
                    (pull.data == want_pull && tls.data.unwrap_or_default().contains_key("rotated")).then_some(())
                }
            },
        )
        .await;
    }

    // A Secret of that name the driver did not make is never touched.
    let foreign = format!("{}foreign", env.prefix);
    env.cluster.create_namespace(&foreign);
    apply_pull_secret(&env.cluster, &foreign, "Zm9yZWlnbg==");

    // The copies are found by their labels, and a deleted source takes its copies with it.
    let all: Api<Secret> = Api::all(kube.clone());
    let selector = format!(
        "openshell.ai/copy-of={PULL_SECRET},openshell.ai/gateway-id={}",
        env.home
    );
    let found = all.list(&ListParams::default().labels(&selector)).await.expect("list");
    let mut where_found: Vec<String> = found
        .items
        .iter()
        .filter_map(|s| s.metadata.namespace.clone())
        .collect();
    where_found.sort();
    assert_eq!(where_found, [ns_a.clone(), ns_b.clone()]);
    env.cluster
        .kubectl(&["delete", "secret", PULL_SECRET, "-n", &env.home], None);
    eventually(PICKED_UP_WITHIN, "the copies removed with their source", || {
        let all = all.clone();
        let selector = selector.clone();
        async move {
            let left = all.list(&ListParams::default().labels(&selector)).await.ok()?;
            left.items.is_empty().then_some(())
        }
    })
    .await;
    assert!(
        secrets_in(&foreign).get_opt(PULL_SECRET).await.expect("get").is_some(),
        "not ours: left in place"
    );
    assert!(
        secrets_in(&ns_a)
            .get_opt(CLIENT_TLS_SECRET)
            .await
            .expect("get")
            .is_some(),
        "other copies stay"
    );
    // Without its source, a create is FAILED_PRECONDITION naming the flag, and nothing is written.
    let mut refused = sandbox_request(&new_id(), "refused");
    refused.workspace = "b".into();
    let err = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(refused) })
        .await
        .expect_err("no source");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("--image-pull-secrets"), "{}", err.message());
    let sandboxes: Api<DynamicObject> =
        Api::namespaced_with(kube.clone(), &ns_b, &sandbox_resource(SandboxApiVersion::V1beta1));
    assert!(sandboxes.get_opt("refused").await.expect("get").is_none());

    // Deleting a workspace removes its namespace, copies and all.
    client
        .delete_workspace(DeleteWorkspaceRequest { workspace: "a".into() })
        .await
        .expect("delete");
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    let gone = namespaces.get_opt(&ns_a).await.expect("get");
    assert!(gone.is_none_or(|n| n.metadata.deletion_timestamp.is_some()));

    for ns in [&env.home, &ns_a, &ns_b, &foreign] {
        let _ = env
            .cluster
            .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
    }
    let _ = env.cluster.try_kubectl(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("openshell-driver-{}", env.home),
        ],
        None,
    );
}

/// Every API request the driver has made so far (its own counter, all verbs and outcomes).
async fn requests_made(metrics_addr: &str) -> f64 {
    let (_, metrics) = http_get(metrics_addr, "/metrics").await;
    metrics
        .lines()
        .filter(|l| l.starts_with("openshell_driver_kube_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_prepared_namespace_is_not_prepared_again_on_every_create() {
    let env = ManagedEnv::start_with("t3mp", &["--image-pull-secrets", PULL_SECRET], |cluster, home| {
        apply_pull_secret(cluster, home, "djE=")
    })
    .await;
    let mut client = env.driver.client().await;
    let addr = env.driver.metrics_addr.clone();
    let in_workspace = |name: &str, workspace: &str| {
        let mut sandbox = sandbox_request(&new_id(), name);
        sandbox.workspace = workspace.into();
        CreateSandboxRequest { sandbox: Some(sandbox) }
    };
    // The first creates prepare the namespace (and may look the sources up until their
    // watches have listed); then a create is its Sandbox and token Secret, nothing more.
    let mut n = 0;
    let (client_ref, addr_ref) = (&client, &addr);
    eventually(Duration::from_secs(60), "a create costing two requests", || {
        n += 1;
        let (mut client, request) = (client_ref.clone(), in_workspace(&format!("warm-{n}"), "p"));
        async move {
            let before = requests_made(addr_ref).await;
            client.create_sandbox(request).await.ok()?;
            (requests_made(addr_ref).await - before <= 2.0).then_some(())
        }
    })
    .await;
    let before = requests_made(&addr).await;
    for i in 0..5 {
        client
            .create_sandbox(in_workspace(&format!("more-{i}"), "p"))
            .await
            .expect("create");
    }
    let per_create = (requests_made(&addr).await - before) / 5.0;
    assert!(
        per_create <= 2.0,
        "a create in a prepared namespace writes only its Sandbox and token Secret: {per_create} requests each"
    );

    // A namespace removed behind the driver's back is made again by the next create.
    client
        .ensure_workspace(EnsureWorkspaceRequest { workspace: "q".into() })
        .await
        .expect("ensure");
    let ns_q = format!("{}q", env.prefix);
    env.cluster
        .kubectl(&["delete", "namespace", &ns_q, "--wait=true", "--timeout=60s"], None);
    client
        .create_sandbox(in_workspace("after-removal", "q"))
        .await
        .expect("the namespace is prepared again");
    let kube = env.cluster.client().await;
    let copies: Api<Secret> = Api::namespaced(kube.clone(), &ns_q);
    assert!(
        copies.get_opt(PULL_SECRET).await.expect("get").is_some(),
        "copied again"
    );

    for ns in [env.home.clone(), format!("{}p", env.prefix), ns_q] {
        let _ = env
            .cluster
            .try_kubectl(&["delete", "namespace", &ns, "--wait=false"], None);
    }
    let _ = env.cluster.try_kubectl(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("openshell-driver-{}", env.home),
        ],
        None,
    );
}
