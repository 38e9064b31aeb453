//! Tier 3, operations: managed workspaces, `check` under the documented RBAC, and the metrics
//! and health endpoints, against the same real API server and controller as
//! `cluster_kubernetes.rs` (`make test-integration` starts them).

mod common;

use std::time::Duration;

use common::cluster::{CLIENT_TLS_SECRET, unique_namespace};
use common::tier3::{Env, ManagedEnv, READY_WITHIN};
use common::*;
use kube::api::{Api, DynamicObject};
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::*;

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn managed_mode_creates_namespaces_per_workspace_and_only_deletes_its_own() {
    let ManagedEnv {
        cluster,
        home,
        prefix,
        driver,
        _dir,
    } = ManagedEnv::start("t3m").await;
    let kube = cluster.client().await;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.clone());
    let mut client = driver.client().await;

    client
        .ensure_workspace(EnsureWorkspaceRequest {
            workspace: "team".into(),
        })
        .await
        .expect("ensure");
    let ns = namespaces
        .get(&format!("{prefix}team"))
        .await
        .expect("workspace namespace");
    assert_eq!(
        ns.metadata.labels.expect("labels")["openshell.ai/managed-by"],
        "openshell"
    );
    client
        .ensure_workspace(EnsureWorkspaceRequest {
            workspace: "team".into(),
        })
        .await
        .expect("idempotent");

    let id = new_id();
    let mut sandbox = sandbox_request(&id, "worker");
    sandbox.workspace = "other".into();
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect("create makes its namespace");
    let sandboxes: Api<DynamicObject> = Api::namespaced_with(
        kube.clone(),
        &format!("{prefix}other"),
        &sandbox_resource(SandboxApiVersion::V1beta1),
    );
    sandboxes
        .get("worker")
        .await
        .expect("bare name in the workspace namespace");
    wait_until_ready(&client, &id, READY_WITHIN).await;

    // The client TLS Secret is copied into the workspace namespace, and kept equal to its source.
    let tls_in = |ns: String| {
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(kube.clone(), &ns);
        async move { secrets.get(CLIENT_TLS_SECRET).await.expect("client TLS Secret") }
    };
    let copy = tls_in(format!("{prefix}other")).await;
    assert_eq!(copy.data, tls_in(home.clone()).await.data);
    assert_eq!(
        copy.metadata
            .labels
            .clone()
            .unwrap_or_default()
            .get("openshell.ai/managed-by")
            .map(String::as_str),
        Some("openshell")
    );
    cluster.apply_client_tls_secret(&home, &["ca.crt", "tls.crt", "tls.key", "rotated"]);
    let mut second = sandbox_request(&new_id(), "worker2");
    second.workspace = "other".into();
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(second) })
        .await
        .expect("second create");
    assert!(
        tls_in(format!("{prefix}other"))
            .await
            .data
            .unwrap_or_default()
            .contains_key("rotated"),
        "the copy follows its source"
    );

    // A namespace that merely has the right name is not ours to delete.
    cluster.create_namespace(&format!("{prefix}foreign"));
    let err = client
        .delete_workspace(DeleteWorkspaceRequest {
            workspace: "foreign".into(),
        })
        .await
        .expect_err("not ours");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{}", err.message());
    assert!(
        namespaces
            .get(&format!("{prefix}foreign"))
            .await
            .expect("still there")
            .metadata
            .deletion_timestamp
            .is_none()
    );
    client
        .delete_workspace(DeleteWorkspaceRequest {
            workspace: "team".into(),
        })
        .await
        .expect("delete ours");
    let gone = namespaces.get_opt(&format!("{prefix}team")).await.expect("get");
    assert!(
        gone.is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
        "our namespace is being deleted"
    );
    client
        .delete_workspace(DeleteWorkspaceRequest {
            workspace: "absent".into(),
        })
        .await
        .expect("absent is fine");
    for ns in [home.clone(), format!("{prefix}other"), format!("{prefix}foreign")] {
        let _ = cluster.try_kubectl(&["delete", "namespace", &ns, "--wait=false"], None);
    }
    let _ = cluster.try_kubectl(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("openshell-driver-{home}"),
        ],
        None,
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn check_passes_with_the_documented_rbac_and_fails_without_a_permission() {
    let env = Env::start().await;
    let id = new_id();
    env.create(&id, "checked").await;
    env.wait_ready(&id).await;
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.namespace));
    let (ok, lines) = run_check(&kubeconfig, &["--namespace", &env.namespace]);
    assert!(ok, "check passes: {lines:?}");
    assert_eq!(verdict_of(&lines, "api-server"), Some("pass"));
    assert_eq!(verdict_of(&lines, "sandbox-crd"), Some("pass"));
    assert_eq!(verdict_of(&lines, "controller"), Some("pass"), "{lines:?}");
    let permissions: Vec<_> = lines.iter().filter(|(c, _, _)| c.starts_with("permission ")).collect();
    // 18: with pods list/watch (pod failures), the workspace claim's get and patch, the sandbox
    // ServiceAccount's get, list, watch and nodes watch (the client TLS Secret's rules only with
    // --client-tls-secret).
    assert_eq!(permissions.len(), 18, "{permissions:?}");
    assert!(permissions.iter().all(|(_, v, _)| v == "pass"), "{permissions:?}");
    assert_eq!(verdict_of(&lines, "sandbox-service-account"), Some("pass"), "{lines:?}");
    let gpu = lines.iter().find(|(c, _, _)| c == "gpu-nodes").expect("gpu line");
    assert!(gpu.2.contains("node-gpu=2"), "{gpu:?}");
    assert_eq!(verdict_of(&lines, "gateway-endpoint"), Some("pass"));
    assert_eq!(verdict_of(&lines, "sandbox-auth"), Some("pass"));

    // The supervisor contract: https needs the client TLS Secret, which must hold its three keys.
    let ns = env.namespace.as_str();
    let https = ["--namespace", ns, "--gateway-endpoint", "https://gateway.test:8443"];
    let (ok, lines) = run_check(&kubeconfig, &https);
    assert!(!ok, "https without trust fails: {lines:?}");
    assert!(
        lines
            .iter()
            .any(|(c, v, d)| c == "gateway-endpoint" && v == "fail" && d.contains("--client-tls-secret")),
        "{lines:?}"
    );
    let with_tls = [&https[..], &["--client-tls-secret", CLIENT_TLS_SECRET]].concat();
    let (ok, lines) = run_check(&kubeconfig, &with_tls);
    assert!(ok, "{lines:?}");
    assert_eq!(verdict_of(&lines, "client-tls"), Some("pass"));
    assert_eq!(
        verdict_of(&lines, &format!("permission get secrets in {ns}")),
        Some("pass"),
        "the named read of the TLS Secret is checked: {lines:?}"
    );
    env.cluster.apply_client_tls_secret(ns, &["tls.crt", "tls.key"]);
    let (ok, lines) = run_check(&kubeconfig, &with_tls);
    assert!(!ok);
    assert!(
        lines
            .iter()
            .any(|(c, v, d)| c == "client-tls" && v == "fail" && d.contains("ca.crt")),
        "{lines:?}"
    );
    let (_, lines) = run_check(&kubeconfig, &["--namespace", ns, "--sandbox-auth", "token-file"]);
    assert_eq!(verdict_of(&lines, "sandbox-auth"), Some("warn"), "{lines:?}");

    let dir = tempfile::tempdir().expect("tempdir");
    let namespace = unique_namespace("t3k");
    env.cluster.create_namespace(&namespace);
    let limited = env.cluster.driver_identity(&namespace, dir.path(), Some("secrets"));
    let (ok, lines) = run_check(&limited, &["--namespace", &namespace]);
    assert!(!ok, "a missing permission fails the check");
    assert_eq!(
        verdict_of(&lines, &format!("permission create secrets in {namespace}")),
        Some("fail"),
        "{lines:?}"
    );
    assert_eq!(
        verdict_of(
            &lines,
            &format!("permission create sandboxes.agents.x-k8s.io in {namespace}")
        ),
        Some("pass")
    );
    let _ = env
        .cluster
        .try_kubectl(&["delete", "namespace", &namespace, "--wait=false"], None);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn metrics_and_health_follow_the_work_done() {
    let env = Env::start().await;
    let addr = env.driver.metrics_addr.clone();
    assert_eq!(http_get(&addr, "/healthz").await.0, 200);
    eventually(READY_WITHIN, "/readyz 200", || async {
        (http_get(&addr, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    let (_, before) = http_get(&addr, "/metrics").await;
    assert_eq!(metric_value(&before, "openshell_driver_sandboxes_created_total"), 0.0);

    let id = new_id();
    env.create(&id, "counted").await;
    env.wait_ready(&id).await;
    let mut client = env.driver.client().await;
    let bad = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&new_id(), "Bad!")),
        })
        .await;
    assert!(bad.is_err());
    client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id,
            sandbox_name: String::new(),
        })
        .await
        .expect("delete");

    let (code, after) = http_get(&addr, "/metrics").await;
    assert_eq!(code, 200);
    let value = |series: &str| metric_value(&after, series);
    assert_eq!(value("openshell_driver_sandboxes_created_total"), 1.0, "{after}");
    assert_eq!(value("openshell_driver_sandboxes_deleted_total"), 1.0);
    assert_eq!(
        value("openshell_driver_grpc_requests_total{method=\"CreateSandbox\",code=\"Ok\"}"),
        1.0
    );
    assert_eq!(
        value("openshell_driver_grpc_requests_total{method=\"CreateSandbox\",code=\"InvalidArgument\"}"),
        1.0
    );
    assert_eq!(
        value("openshell_driver_kube_requests_total{verb=\"create\",resource=\"sandboxes\",outcome=\"success\"}"),
        1.0
    );
    // Service-account mode writes no Secret; the client TLS Secret comes from its watch (a
    // lookup at most when a create comes before the watch's first list).
    assert_eq!(
        value("openshell_driver_kube_requests_total{verb=\"create\",resource=\"secrets\",outcome=\"success\"}"),
        0.0
    );
    assert!(
        value("openshell_driver_kube_requests_total{verb=\"get\",resource=\"secrets\",outcome=\"success\"}") <= 1.0
    );
    assert!(value("openshell_driver_grpc_request_duration_seconds_count{method=\"GetSandbox\"}") >= 1.0);
    assert!(
        !after.contains(&env.namespace),
        "no sandbox or namespace names in labels"
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn creates_ask_watches_of_the_service_account_and_the_tls_secret_not_the_api_server() {
    // A ServiceAccount of its own: the namespace's `default` would be remade at once.
    let env = Env::start_with(None, &["--sandbox-service-account", "agent-sa"]).await;
    let ns = env.namespace.as_str();
    let driver = format!("--serviceaccount={ns}:openshell-driver");
    let role = [
        "create",
        "role",
        "agent-sa",
        "-n",
        ns,
        "--verb=get,list,watch",
        "--resource=serviceaccounts",
        "--resource-name=agent-sa",
    ];
    env.cluster.kubectl(&role, None);
    let binding = [
        "create",
        "rolebinding",
        "agent-sa",
        "-n",
        ns,
        "--role=agent-sa",
        &driver,
    ];
    env.cluster.kubectl(&binding, None);
    env.cluster
        .kubectl(&["create", "serviceaccount", "agent-sa", "-n", ns], None);
    let addr = env.driver.metrics_addr.clone();
    // Lookups of the sandbox ServiceAccount and of the client TLS Secret.
    let lookups = || async {
        let (_, metrics) = http_get(&addr, "/metrics").await;
        ["serviceaccounts", "secrets"]
            .map(|r| {
                let series = format!(
                    "openshell_driver_kube_requests_total{{verb=\"get\",resource=\"{r}\",outcome=\"success\"}}"
                );
                metric_value(&metrics, &series)
            })
            .iter()
            .sum::<f64>()
    };
    // The driver started before the Role: its watch is refused at first and tried again. Until
    // it lists, each create looks the ServiceAccount up.
    let mut n = 0;
    let (env_ref, lookups_ref) = (&env, &lookups);
    eventually(Duration::from_secs(90), "a create that needed no lookup", || {
        n += 1;
        let name = format!("watched-{n}");
        let (env, lookups) = (env_ref, lookups_ref);
        async move {
            let before = lookups().await;
            env.create(&new_id(), &name).await;
            (lookups().await == before).then_some(())
        }
    })
    .await;
    let settled = lookups().await;
    for i in 0..5 {
        env.create(&new_id(), &format!("more-{i}")).await;
    }
    assert_eq!(
        lookups().await,
        settled,
        "no lookup per create once the watches have them"
    );

    // Gone: the watch says so, the next create asks, and is refused naming it.
    env.cluster
        .kubectl(&["delete", "serviceaccount", "agent-sa", "-n", ns], None);
    let client = env.driver.client().await;
    let refused = eventually(READY_WITHIN, "FAILED_PRECONDITION once it is gone", || {
        let mut client = client.clone();
        async move {
            let e = client
                .create_sandbox(CreateSandboxRequest {
                    sandbox: Some(sandbox_request(&new_id(), "after-delete")),
                })
                .await
                .err()?;
            (e.code() == tonic::Code::FailedPrecondition).then_some(e)
        }
    })
    .await;
    assert!(refused.message().contains("agent-sa"), "{}", refused.message());
    let _ = env
        .cluster
        .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
}
