//! Tier 3: the driver binary, over its real socket, against a real kube-apiserver with the real
//! agent-sandbox controller and kwok nodes (`make test-integration` starts them). Every test
//! runs the driver as a ServiceAccount bound to exactly `deploy/rbac.yaml`, never as admin.

mod common;

use std::time::Duration;

use common::cluster::{CLIENT_TLS_SECRET, Cluster, unique_namespace};
use common::tier3::{Env, ManagedEnv, READY_WITHIN};
use common::*;
use kube::api::{Api, DynamicObject};
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::*;
use serde_json::json;

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn create_renders_the_cr_and_reaches_ready_everywhere() {
    let env = Env::start().await;
    let mut client = env.driver.client().await;
    let mut watch = Events::open(&mut client).await;
    let id = new_id();
    env.create(&id, "alpha").await;

    let cr = env.sandboxes().get("default--alpha").await.expect("Sandbox stored");
    let labels = cr.metadata.labels.clone().expect("labels");
    assert_eq!(labels["openshell.ai/sandbox-id"], id);
    assert_eq!(labels["openshell.ai/managed-by"], "openshell");
    assert_eq!(labels["kagenti.io/type"], "agent");
    let spec = &cr.data["spec"];
    assert_eq!(
        spec["podTemplate"]["metadata"]["labels"]["openshell.ai/sandbox-id"],
        json!(id)
    );
    // Kubernetes 1.36: `auto` mounts the supervisor's image, no init container.
    assert!(spec["podTemplate"]["spec"].get("initContainers").is_none());
    let volumes = spec["podTemplate"]["spec"]["volumes"].as_array().expect("volumes");
    assert!(
        volumes
            .iter()
            .any(|v| v["name"] == "openshell-supervisor" && v["image"]["reference"].is_string())
    );
    assert!(
        !serde_json::to_string(&cr)
            .expect("json")
            .contains("test-token.not-a-real-jwt"),
        "token in the CR"
    );

    // The default identity is a projected token: the gateway's token is stored nowhere.
    let token_secret = env
        .secrets()
        .get_opt("default--alpha-openshell-token")
        .await
        .expect("get");
    assert!(token_secret.is_none(), "service-account mode writes no token Secret");

    let pod = eventually(READY_WITHIN, "the controller's Pod", || async {
        env.pods().get_opt("default--alpha").await.ok().flatten()
    })
    .await;
    assert_eq!(pod.metadata.labels.expect("pod labels")["openshell.ai/sandbox-id"], id);

    let ready = env.wait_ready(&id).await;
    assert_eq!(ready.id, id);
    assert_eq!(ready.name, "alpha");
    let list = list_all(&mut client).await.expect("lists");
    assert!(list.iter().any(|s| s.id == id && is_ready(s)), "listed as Ready");
    // The scheduler's Event for the Pod reaches the gateway as a progress platform event.
    let scheduled = std::cell::Cell::new(false);
    let is_scheduled = |e: &WatchSandboxesEvent| match &e.payload {
        Some(watch_sandboxes_event::Payload::PlatformEvent(p)) => {
            p.sandbox_id == id
                && p.event.as_ref().is_some_and(|ev| {
                    ev.reason == "Scheduled"
                        && ev.metadata.get("openshell.progress.complete_step").map(String::as_str)
                            == Some("requesting_sandbox")
                })
        }
        _ => false,
    };
    let seen = watch
        .until(READY_WITHIN, |e| {
            if is_scheduled(e) {
                scheduled.set(true);
            }
            snapshot_of(e).is_some_and(|s| s.id == id && is_ready(s))
        })
        .await;
    assert!(
        seen.is_some(),
        "watch reported Ready; driver log:\n{}",
        env.driver.log()
    );
    if !scheduled.get() {
        let event = watch.until(READY_WITHIN, is_scheduled).await;
        assert!(
            event.is_some(),
            "a Scheduled platform event; driver log:\n{}",
            env.driver.log()
        );
    }

    // The same create again (the gateway retries) is accepted; another id under the name is not.
    env.create(&id, "alpha").await;
    let err = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&new_id(), "alpha")),
        })
        .await
        .expect_err("taken");
    assert_eq!(err.code(), tonic::Code::AlreadyExists);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn resolve_endpoint_reports_the_pod_ip() {
    let env = Env::start().await;
    let id = new_id();
    env.create(&id, "beta").await;
    env.wait_ready(&id).await;
    let pod = env.pods().get("default--beta").await.expect("pod");
    let pod_ip = pod.status.and_then(|s| s.pod_ip).expect("pod ip");
    let mut client = env.driver.client().await;
    let endpoint = eventually(READY_WITHIN, "an endpoint", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            client
                .resolve_sandbox_endpoint(ResolveSandboxEndpointRequest {
                    sandbox_id: id,
                    sandbox_name: String::new(),
                })
                .await
                .ok()
        }
    })
    .await
    .into_inner();
    assert_eq!(endpoint.pod_ips, vec![pod_ip]);
    assert!(!endpoint.node_name.is_empty());
    assert_eq!(endpoint.instance_id, "default--beta");
    let missing = client
        .resolve_sandbox_endpoint(ResolveSandboxEndpointRequest {
            sandbox_id: new_id(),
            sandbox_name: String::new(),
        })
        .await
        .expect_err("absent");
    assert_eq!(missing.code(), tonic::Code::NotFound);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn stop_then_start() {
    let env = Env::start().await;
    let id = new_id();
    env.create(&id, "gamma").await;
    env.wait_ready(&id).await;
    let mut client = env.driver.client().await;
    let target = || StopSandboxRequest {
        sandbox_id: id.clone(),
        sandbox_name: "gamma".into(),
    };
    client.stop_sandbox(target()).await.expect("stops");
    // Stop returns only once the workload is really stopped.
    assert!(
        is_suspended(&env.get(&id).await.expect("get")),
        "Suspended=True when Stop returns"
    );
    eventually(READY_WITHIN, "the Pod gone", || async {
        env.pods().get_opt("default--gamma").await.ok().filter(Option::is_none)
    })
    .await;
    client.stop_sandbox(target()).await.expect("stop is idempotent");

    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("starts");
    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("start is idempotent");
    env.wait_ready(&id).await;
    assert!(
        env.pods().get_opt("default--gamma").await.expect("get").is_some(),
        "Pod recreated"
    );
    let absent = client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: new_id(),
            sandbox_name: String::new(),
        })
        .await
        .expect_err("absent");
    assert_eq!(absent.code(), tonic::Code::NotFound);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn delete_collects_everything_and_reports_deleted_once() {
    let env = Env::start_with(None, &["--sandbox-auth", "token-file"]).await;
    let id = new_id();
    env.create(&id, "delta").await;
    env.wait_ready(&id).await;
    let mut client = env.driver.client().await;
    let mut watch = Events::open(&mut client).await;
    let req = || DeleteSandboxRequest {
        sandbox_id: id.clone(),
        sandbox_name: "delta".into(),
    };
    assert!(
        client
            .delete_sandbox(req())
            .await
            .expect("deletes")
            .into_inner()
            .deleted
    );
    assert!(
        watch
            .until(READY_WITHIN, |e| deleted_id(e) == Some(id.as_str()))
            .await
            .is_some(),
        "deleted event"
    );
    eventually(
        READY_WITHIN,
        "Sandbox, Pod and token Secret garbage-collected",
        || async {
            let gone = env.sandboxes().get_opt("default--delta").await.ok()?.is_none()
                && env.pods().get_opt("default--delta").await.ok()?.is_none()
                && env
                    .secrets()
                    .get_opt("default--delta-openshell-token")
                    .await
                    .ok()?
                    .is_none();
            gone.then_some(())
        },
    )
    .await;
    assert!(
        !client
            .delete_sandbox(req())
            .await
            .expect("second delete")
            .into_inner()
            .deleted
    );
    let get = client.get_sandbox(get_request(&id)).await.expect_err("gone");
    assert_eq!(get.code(), tonic::Code::NotFound);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn gpu_validation_uses_real_node_capacity() {
    let env = Env::start().await;
    let mut client = env.driver.client().await;
    for (count, ok) in [(Some(1), true), (Some(2), true), (None, true), (Some(3), false)] {
        let sandbox = with_gpu(sandbox_request(&new_id(), "gpu"), count);
        let result = client
            .validate_sandbox_create(ValidateSandboxCreateRequest { sandbox: Some(sandbox) })
            .await;
        match (ok, result) {
            (true, Ok(_)) => {}
            (false, Err(status)) => {
                assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{count:?}");
                assert!(status.message().contains("nvidia.com/gpu"), "{}", status.message());
            }
            (want, got) => panic!("gpu {count:?}: wanted ok={want}, got {got:?}"),
        }
    }
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn bad_input_gets_the_right_code_and_leaves_nothing() {
    let env = Env::start().await;
    let mut client = env.driver.client().await;
    // The same corpus as tier 2 (tests/common/corpus.rs), against the real API server.
    for case in common::corpus::bad_requests() {
        let (v, c) = case.refusals(&mut client).await;
        for status in [v, c] {
            case.assert_refused(&status);
        }
    }
    env.assert_nothing_written().await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn fifty_sandboxes_at_once_all_reach_ready() {
    let env = Env::start().await;
    let ids: Vec<String> = (0..50).map(|_| new_id()).collect();
    let creates = ids.iter().enumerate().map(|(i, id)| {
        let socket = env.driver.socket.clone();
        let id = id.clone();
        async move {
            let mut client = connect(&socket).await.expect("connects");
            client
                .create_sandbox(CreateSandboxRequest {
                    sandbox: Some(sandbox_request(&id, &format!("many-{i}"))),
                })
                .await
        }
    });
    for result in futures::future::join_all(creates).await {
        result.expect("create accepted");
    }
    let mut client = env.driver.client().await;
    eventually(Duration::from_secs(180), "50 sandboxes Ready in ListSandboxes", || {
        let mut client = client.clone();
        let ids = ids.clone();
        async move {
            let list = list_all(&mut client).await.ok()?;
            let ready = ids
                .iter()
                .filter(|id| list.iter().any(|s| &s.id == *id && is_ready(s)))
                .count();
            (ready == ids.len()).then_some(())
        }
    })
    .await;
    let list = list_all(&mut client).await.expect("list");
    assert_eq!(list.len(), 50);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_missing_permission_is_permission_denied_naming_verb_and_resource() {
    // The token Secret is the one secret write; no client TLS Secret is read first.
    let env = Env::start_with(
        Some("secrets"),
        &[
            "--sandbox-auth",
            "token-file",
            "--gateway-endpoint",
            "http://gateway.test:8080",
        ],
    )
    .await;
    let mut client = env.driver.client().await;
    let err = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&new_id(), "nope")),
        })
        .await
        .expect_err("denied");
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{}", err.message());
    assert!(err.message().contains("create secrets"), "{}", err.message());
    // The half-made Sandbox was removed again.
    eventually(READY_WITHIN, "the half-made Sandbox removed", || async {
        env.sandboxes()
            .get_opt("default--nope")
            .await
            .ok()
            .filter(Option::is_none)
    })
    .await;
}

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
    // 14: with pods list/watch (pod failures), the sandbox ServiceAccount's get and nodes watch.
    assert_eq!(permissions.len(), 14, "{permissions:?}");
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
    // Service-account mode writes no Secret; the client TLS Secret is read before each create.
    assert_eq!(
        value("openshell_driver_kube_requests_total{verb=\"create\",resource=\"secrets\",outcome=\"success\"}"),
        0.0
    );
    assert!(
        value("openshell_driver_kube_requests_total{verb=\"get\",resource=\"secrets\",outcome=\"success\"}") >= 1.0
    );
    assert!(value("openshell_driver_grpc_request_duration_seconds_count{method=\"GetSandbox\"}") >= 1.0);
    assert!(
        !after.contains(&env.namespace),
        "no sandbox or namespace names in labels"
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn stop_that_outlasts_its_timeout_is_deadline_exceeded() {
    let env = Env::start_with(None, &["--stop-timeout", "1ms"]).await;
    let id = new_id();
    env.create(&id, "slow").await;
    env.wait_ready(&id).await;
    let mut client = env.driver.client().await;
    let err = client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect_err("1ms is too short for the controller");
    assert_eq!(err.code(), tonic::Code::DeadlineExceeded, "{}", err.message());
    assert!(err.message().contains("Suspended=True"), "{}", err.message());
    // The stop itself went through; once Suspended=True is reported, Stop succeeds at once.
    eventually(READY_WITHIN, "Suspended=True", || async {
        env.get(&id).await.ok().filter(is_suspended)
    })
    .await;
    client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: id,
            sandbox_name: String::new(),
        })
        .await
        .expect("already stopped");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn create_into_a_missing_namespace_is_failed_precondition() {
    let cluster = Cluster::from_env();
    let missing = unique_namespace("t3-absent");
    let admin = cluster.kubeconfig.to_string_lossy().into_owned();
    let driver = DriverProcess::start(
        &["--namespace", &missing, "--gateway-id", &missing],
        &[("KUBECONFIG", &admin)],
    )
    .await;
    let mut client = driver.client().await;
    let err = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&new_id(), "lost")),
        })
        .await
        .expect_err("no namespace");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains(&missing), "{}", err.message());
}
