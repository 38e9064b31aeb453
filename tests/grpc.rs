//! Tier 2: the real server on a temporary socket and a real tonic client. The provisioner is
//! the in-memory one (real rendering, real cache and watch fan-out); tier 3 repeats the same
//! scenarios against a real API server.

mod common;

use std::time::Duration;

use common::memory::stored;
use common::memory_server::Server;
use common::*;
use openshell_driver_openshift::proto::*;
use openshell_driver_openshift::provisioner::Readiness;
use openshell_driver_openshift::server;

const SHORT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn capabilities_and_listener_requirements() {
    let server = Server::start().await;
    let mut client = server.client().await;
    let caps = capabilities(&mut client).await;
    assert_eq!(caps.driver_name, "openshift");
    assert_eq!(caps.driver_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(caps.default_image, "registry.example/default:1");
    assert!(!caps.gateway_manages_lifecycle);
    let reqs = client
        .get_gateway_listener_requirements(GetGatewayListenerRequirementsRequest {})
        .await
        .expect("reqs");
    assert!(reqs.into_inner().requirements.is_empty());
}

#[tokio::test]
async fn sandbox_lifecycle_over_the_socket() {
    let server = Server::start().await;
    let mut client = server.client().await;
    let id = new_id();
    let sandbox = sandbox_request(&id, "life");
    validate_and_create(&mut client, sandbox.clone()).await;
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect("retry of the same id is OK");
    assert!(stored(&server.provisioner, &id));

    let got = client
        .get_sandbox(get_request(&id))
        .await
        .expect("get")
        .into_inner()
        .sandbox
        .expect("sandbox");
    assert_eq!((got.id.as_str(), got.name.as_str()), (id.as_str(), "life"));
    assert!(is_ready(&got));
    let list = list_all(&mut client).await.expect("list");
    assert_eq!(
        list.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![id.as_str()]
    );
    let endpoint = client
        .resolve_sandbox_endpoint(ResolveSandboxEndpointRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("endpoint")
        .into_inner();
    assert_eq!(endpoint.pod_ips, vec!["10.244.0.9"]);

    client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("stop");
    assert!(is_suspended(
        &client
            .get_sandbox(get_request(&id))
            .await
            .expect("get")
            .into_inner()
            .sandbox
            .expect("sandbox")
    ));
    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("start");
    assert!(is_ready(
        &client
            .get_sandbox(get_request(&id))
            .await
            .expect("get")
            .into_inner()
            .sandbox
            .expect("sandbox")
    ));

    let delete = || DeleteSandboxRequest {
        sandbox_id: id.clone(),
        sandbox_name: String::new(),
    };
    assert!(
        client
            .delete_sandbox(delete())
            .await
            .expect("delete")
            .into_inner()
            .deleted
    );
    assert!(
        !client
            .delete_sandbox(delete())
            .await
            .expect("delete again")
            .into_inner()
            .deleted
    );
    assert_eq!(
        client.get_sandbox(get_request(&id)).await.expect_err("gone").code(),
        tonic::Code::NotFound
    );
    client
        .ensure_workspace(EnsureWorkspaceRequest {
            workspace: "team-a".into(),
        })
        .await
        .expect("ensure");
    client
        .delete_workspace(DeleteWorkspaceRequest {
            workspace: "team-a".into(),
        })
        .await
        .expect("delete ws");
}

/// The bad-input corpus (tests/common/corpus.rs): both RPCs refuse every case with its code and
/// a message naming the field, and nothing is stored.
#[tokio::test]
async fn the_bad_input_corpus_is_refused_by_both_rpcs_and_stores_nothing() {
    let server = Server::start().await;
    let mut client = server.client().await;
    for case in common::corpus::bad_requests() {
        let (v, c) = case.refusals(&mut client).await;
        for status in [v, c] {
            case.assert_refused(&status);
        }
        assert!(
            !stored(&server.provisioner, &case.sandbox.id),
            "{}: nothing stored",
            case.what
        );
    }
}

#[tokio::test]
async fn errors_carry_the_right_codes() {
    let server = Server::start().await;
    let mut client = server.client().await;
    let taken = new_id();
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&taken, "taken")),
        })
        .await
        .expect("created");

    let refused_validate = |sandbox: DriverSandbox| {
        let mut client = client.clone();
        async move {
            client
                .validate_sandbox_create(ValidateSandboxCreateRequest { sandbox: Some(sandbox) })
                .await
                .expect_err("refused")
        }
    };
    let mut c = client.clone();
    let cases: Vec<(&str, tonic::Status, tonic::Code)> = vec![
        (
            "no sandbox",
            c.create_sandbox(CreateSandboxRequest { sandbox: None })
                .await
                .expect_err("x"),
            tonic::Code::InvalidArgument,
        ),
        (
            "bad name",
            refused_validate(sandbox_request(&new_id(), "Bad_Name")).await,
            tonic::Code::InvalidArgument,
        ),
        (
            "name taken",
            c.create_sandbox(CreateSandboxRequest {
                sandbox: Some(sandbox_request(&new_id(), "taken")),
            })
            .await
            .expect_err("x"),
            tonic::Code::AlreadyExists,
        ),
        (
            "too many gpus",
            refused_validate(with_gpu(sandbox_request(&new_id(), "gpu"), Some(3))).await,
            tonic::Code::FailedPrecondition,
        ),
        (
            "zero gpus",
            refused_validate(with_gpu(sandbox_request(&new_id(), "gpu"), Some(0))).await,
            tonic::Code::InvalidArgument,
        ),
        (
            "empty id",
            c.get_sandbox(get_request("")).await.expect_err("x"),
            tonic::Code::InvalidArgument,
        ),
        (
            "absent get",
            c.get_sandbox(get_request(&new_id())).await.expect_err("x"),
            tonic::Code::NotFound,
        ),
        (
            "absent stop",
            c.stop_sandbox(StopSandboxRequest {
                sandbox_id: new_id(),
                sandbox_name: String::new(),
            })
            .await
            .expect_err("x"),
            tonic::Code::NotFound,
        ),
        (
            "absent start",
            c.start_sandbox(StartSandboxRequest {
                sandbox_id: new_id(),
                sandbox_name: String::new(),
            })
            .await
            .expect_err("x"),
            tonic::Code::NotFound,
        ),
        (
            "bad workspace",
            c.ensure_workspace(EnsureWorkspaceRequest { workspace: "No".into() })
                .await
                .expect_err("x"),
            tonic::Code::InvalidArgument,
        ),
    ];
    for (what, status, code) in cases {
        assert_eq!(status.code(), code, "{what}: {}", status.message());
        assert!(!status.message().is_empty(), "{what}: a clear message");
    }

    server
        .provisioner
        .readiness
        .send_replace(Readiness::Misconfigured("install the Sandbox CRD".into()));
    let err = client
        .list_sandboxes(ListSandboxesRequest {})
        .await
        .expect_err("misconfigured");
    assert_eq!(
        (err.code(), err.message()),
        (tonic::Code::FailedPrecondition, "install the Sandbox CRD")
    );
    server
        .provisioner
        .readiness
        .send_replace(Readiness::Unavailable("API server down".into()));
    assert_eq!(
        client
            .list_sandboxes(ListSandboxesRequest {})
            .await
            .expect_err("down")
            .code(),
        tonic::Code::Unavailable
    );
    client
        .get_capabilities(GetCapabilitiesRequest {})
        .await
        .expect("capabilities never depend on the cluster");
}

#[tokio::test]
async fn watch_replays_state_then_follows_changes_and_replays_on_reopen() {
    let server = Server::start().await;
    let mut client = server.client().await;
    let (a, b) = (new_id(), new_id());
    for (id, name) in [(&a, "wa"), (&b, "wb")] {
        client
            .create_sandbox(CreateSandboxRequest {
                sandbox: Some(sandbox_request(id, name)),
            })
            .await
            .expect("created");
    }
    let mut first = Events::open(&mut client).await;
    let mut replayed: Vec<String> = Vec::new();
    for _ in 0..2 {
        let e = first.next(SHORT).await.expect("replay event");
        replayed.push(snapshot_of(&e).expect("snapshot").id.clone());
    }
    replayed.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(replayed, want);

    let c = new_id();
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&c, "wc")),
        })
        .await
        .expect("created");
    assert!(
        first
            .until(SHORT, |e| snapshot_of(e).is_some_and(|s| s.id == c))
            .await
            .is_some(),
        "live create"
    );
    client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: a.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("deleted");
    assert!(
        first
            .until(SHORT, |e| deleted_id(e) == Some(a.as_str()))
            .await
            .is_some(),
        "live delete"
    );

    // The gateway reopens after an error: a new stream replays the current state.
    drop(first);
    let mut second = Events::open(&mut client).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            snapshot_of(&second.next(SHORT).await.expect("replay"))
                .expect("snapshot")
                .id
                .clone(),
        );
    }
    ids.sort();
    let mut want = vec![b, c];
    want.sort();
    assert_eq!(ids, want);
    assert!(
        second.next(Duration::from_millis(200)).await.is_none(),
        "nothing but the current state"
    );
}

#[tokio::test]
async fn grpc_health_reports_serving() {
    let server = Server::start().await;
    let channel = openshell_driver_openshift::cli::client::channel(&server.socket)
        .await
        .expect("channel");
    let health = tonic_health::pb::health_client::HealthClient::new(channel);
    eventually(SHORT, "SERVING", || {
        let mut health = health.clone();
        async move {
            let r = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: server::SERVICE_NAME.into(),
                })
                .await
                .ok()?;
            (r.into_inner().status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
                .then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn json_logs_continue_the_gateways_trace_and_name_rpc_code_and_latency() {
    // No cluster is needed for this: the driver starts and answers GetCapabilities anyway.
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = unreachable_kubeconfig(dir.path());
    let driver = DriverProcess::start(&["--log-format", "json"], &[("KUBECONFIG", &kubeconfig)]).await;
    let mut client = driver.client().await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = tonic::Request::new(GetCapabilitiesRequest {});
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01").parse().expect("header"),
    );
    client
        .get_capabilities(request)
        .await
        .expect("capabilities without a cluster");
    let mut absent = tonic::Request::new(get_request(&new_id()));
    absent.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b8-01").parse().expect("header"),
    );
    let err = client.get_sandbox(absent).await.expect_err("no cluster");
    assert_eq!(err.code(), tonic::Code::Unavailable, "{}", err.message());

    let line = eventually(SHORT, "the RPC's JSON log lines", || async {
        let log = driver.log();
        let lines: Vec<serde_json::Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let done = lines.iter().find(|l| l["rpc"] == "GetCapabilities")?.clone();
        let failed = lines.iter().find(|l| l["rpc"] == "GetSandbox")?.clone();
        Some((done, failed))
    })
    .await;
    let (done, failed) = line;
    assert_eq!(done["span"]["trace_id"], trace_id, "{done}");
    assert_eq!(done["span"]["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(done["span"]["span_id"].as_str().map(str::len), Some(16));
    assert_eq!(done["code"], "Ok");
    assert!(done["latency_ms"].as_f64().is_some(), "{done}");
    assert_eq!(failed["code"], "Unavailable");
    assert!(failed["sandbox_id"].as_str().is_some_and(|s| !s.is_empty()), "{failed}");
    assert_eq!(failed["span"]["trace_id"], trace_id);
}
