//! Tier 2, the socket and the process: file modes, stale sockets, peer credentials, graceful
//! shutdown and startup refusals of the real binary and server.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::memory_server::Server;
use common::*;
use openshell_driver_openshift::proto::*;
use openshell_driver_openshift::server::DriverSocket;

const SHORT: Duration = Duration::from_secs(5);

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

#[test]
fn serve_refuses_bad_operator_mode_flags_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("run").join("driver.sock");
    let malformed = dir.path().join("namespaces.json");
    std::fs::write(&malformed, "team-a\n").expect("write");
    let malformed = malformed.to_string_lossy().into_owned();
    // (environment, the flag the error must name)
    let cases: [(&[(&str, &str)], &str); 5] = [
        (
            &[("OPENSHELL_DRIVER_WORKSPACE_MODE", "operator")],
            "--operator-namespace-label",
        ),
        (
            &[
                ("OPENSHELL_DRIVER_WORKSPACE_MODE", "operator"),
                ("OPENSHELL_DRIVER_OPERATOR_NAMESPACE_LABEL", "team in (a,b)"),
            ],
            "--operator-namespace-label \"team in (a,b)\"",
        ),
        (
            &[
                ("OPENSHELL_DRIVER_WORKSPACE_MODE", "operator"),
                ("OPENSHELL_DRIVER_OPERATOR_NAMESPACE_FILE", &malformed),
            ],
            "--operator-namespace-file",
        ),
        (
            &[
                ("OPENSHELL_DRIVER_WORKSPACE_MODE", "operator"),
                (
                    "OPENSHELL_DRIVER_OPERATOR_NAMESPACE_FILE",
                    "/nonexistent/namespaces.json",
                ),
            ],
            "--operator-namespace-file: /nonexistent/namespaces.json",
        ),
        (
            &[("OPENSHELL_DRIVER_OPERATOR_NAMESPACE_LABEL", "a=b")],
            "--operator-namespace-label is used only with --workspace-mode operator",
        ),
    ];
    for (env, flag) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-driver-openshift"))
            .arg("--socket")
            .arg(&socket)
            .args([
                "--metrics-bind-address",
                "",
                "--gateway-endpoint",
                "http://gateway.test:8080",
            ])
            .envs(env.iter().copied())
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env:?}: started anyway");
        assert!(stderr.contains(flag), "{env:?}: {stderr}");
        assert!(!socket.exists(), "{env:?}: no socket is opened");
    }
}
