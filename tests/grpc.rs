//! Tier 2: the real server on a temporary socket and a real tonic client. The provisioner is
//! the in-memory one (real rendering, real cache and watch fan-out); tier 3 repeats the same
//! scenarios against a real API server.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::memory::stored;
use common::memory_server::Server;
use common::*;
use openshell_driver_openshift::proto::*;
use openshell_driver_openshift::provisioner::Readiness;
use openshell_driver_openshift::server::{self, DriverSocket};

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
async fn socket_is_private() {
    let server = Server::start().await;
    let dir = server.socket.parent().expect("dir");
    assert_eq!(std::fs::metadata(dir).expect("dir").permissions().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(&server.socket).expect("socket").permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&server.socket).expect("socket").uid(),
        openshell_driver_openshift::server::socket::effective_uid()
    );
}

#[tokio::test]
async fn stale_sockets_are_replaced_but_other_files_and_shared_directories_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("own").join("driver.sock");
    drop(DriverSocket::bind(&path, &[]).expect("first bind"));
    // A crashed driver leaves its socket: simulate it with a raw listener.
    let stale = std::os::unix::net::UnixListener::bind(&path).expect("stale socket");
    drop(stale);
    assert!(path.exists());
    let rebound = DriverSocket::bind(&path, &[]).expect("stale socket of ours is replaced");
    drop(rebound);
    assert!(!path.exists(), "socket removed on exit");

    std::fs::write(&path, b"not a socket").expect("file");
    let err = DriverSocket::bind(&path, &[]).err().expect("refused");
    assert!(err.to_string().contains("not a socket"), "{err}");
    std::fs::remove_file(&path).expect("cleanup");

    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("dir");
    std::fs::write(shared.join("someone-else.pid"), b"1").expect("file");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = DriverSocket::bind(&shared.join("driver.sock"), &[])
        .err()
        .expect("refused");
    assert!(err.to_string().contains("shared"), "{err}");
    assert_eq!(
        std::fs::metadata(&shared).expect("dir").permissions().mode() & 0o777,
        0o755,
        "a shared directory is never chmodded"
    );
}

/// Connects as `uid` (a child process) with an HTTP/2 preface; returns how many bytes the
/// server answered with (0: the connection was dropped).
fn answer_bytes_as(uid: u32, socket: &Path) -> usize {
    use std::os::unix::process::CommandExt;
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(3)\ns.connect(sys.argv[1])\ns.sendall(b'PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n\\x00\\x00\\x00\\x04\\x00\\x00\\x00\\x00\\x00')\ntry:\n  print(len(s.recv(64)))\nexcept Exception:\n  print(0)\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(socket)
        .uid(uid)
        .gid(uid)
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

#[tokio::test]
async fn peers_with_another_uid_are_refused_unless_allowed() {
    if openshell_driver_openshift::server::socket::effective_uid() != 0 {
        eprintln!("SKIPPED: peer-uid refusal needs root to connect as another uid");
        return;
    }
    const OTHER: u32 = 65534;
    for (allowed, want_answer) in [(vec![], false), (vec![OTHER], true)] {
        let server = Server::start_with_peers(&allowed).await;
        // The 0700 directory keeps other users out in the first place; open it up to reach
        // the second line of defence, the SO_PEERCRED check.
        let dir = server.socket.parent().expect("dir").to_path_buf();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let socket = server.socket.clone();
        let bytes = tokio::task::spawn_blocking(move || answer_bytes_as(OTHER, &socket))
            .await
            .expect("join");
        assert_eq!(bytes > 0, want_answer, "allowed={allowed:?}: answered {bytes} bytes");
        server
            .client()
            .await
            .get_capabilities(GetCapabilitiesRequest {})
            .await
            .expect("own uid still served");
    }
}

#[tokio::test]
async fn graceful_shutdown_finishes_calls_ends_watches_and_removes_the_socket() {
    let server = Server::start().await;
    let mut client = server.client().await;
    let id = new_id();
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&id, "bye")),
        })
        .await
        .expect("created");
    let mut watch = Events::open(&mut client).await;
    watch.next(SHORT).await.expect("replay");
    *server.provisioner.stop_delay.lock().expect("lock") = Duration::from_millis(700);
    let mut stopping = client.clone();
    let in_flight = tokio::spawn(async move {
        stopping
            .stop_sandbox(StopSandboxRequest {
                sandbox_id: id,
                sandbox_name: String::new(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.shutdown.send(true).expect("signal");
    in_flight.await.expect("join").expect("the in-flight Stop completed");
    assert!(watch.next(SHORT).await.is_none(), "the watch stream ended");
    tokio::time::timeout(SHORT, server.task)
        .await
        .expect("serve returned in time")
        .expect("join")
        .expect("clean exit");
    assert!(!server.socket.exists(), "socket removed");
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

#[tokio::test]
async fn sigterm_stops_the_binary_cleanly_and_removes_its_socket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = unreachable_kubeconfig(dir.path());
    let mut driver = DriverProcess::start(&["--shutdown-grace", "3s"], &[("KUBECONFIG", &kubeconfig)]).await;
    let mut client = driver.client().await;
    let mut watch = Events::open(&mut client).await;
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = driver.terminate();
        (status, driver)
    })
    .await
    .expect("join");
    let (status, driver) = status;
    assert!(status.success(), "exit status {status:?}; log:\n{}", driver.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exited within the grace period"
    );
    assert!(watch.next(SHORT).await.is_none(), "the watch stream ended");
    assert!(!driver.socket.exists(), "socket removed on exit");
    assert!(driver.log().contains("SIGTERM"), "{}", driver.log());
}

#[test]
fn serve_refuses_to_start_without_a_gateway_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("driver.sock");
    for endpoint in ["", "gateway.test:8080"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-driver-openshift"))
            .arg("--socket")
            .arg(&socket)
            .args(["--metrics-bind-address", "", "--gateway-endpoint", endpoint])
            .env_remove("OPENSHELL_DRIVER_GATEWAY_ENDPOINT")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{endpoint:?}: started anyway");
        assert!(stderr.contains("--gateway-endpoint"), "{endpoint:?}: {stderr}");
        assert!(!socket.exists(), "{endpoint:?}: no socket is opened");
    }
}
