//! Tier 2: other clients of the real server: the `client` subcommand (request files in the
//! wire's own JSON) and Python grpcio (grpc-core) on the Unix socket.

mod common;

use std::path::Path;

use common::memory_server::Server;
use openshell_driver_openshift::proto::*;

/// Python grpcio (grpc-core, like the C++ and Java clients) on the Unix socket. With default
/// options it sends the socket path as the HTTP/2 `:authority`, which h2 (under tonic) refuses
/// with PROTOCOL_ERROR before the driver sees the call; with `grpc.default_authority=localhost`,
/// as the README tells such clients, the call works. Needs python3 with grpcio (`make deps`).
#[tokio::test]
async fn a_python_grpcio_client_needs_the_localhost_authority() {
    let server = Server::start().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/get_capabilities.py");
    let call = |authority: Option<&'static str>| {
        let (script, socket) = (script.clone(), server.socket.clone());
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new("python3");
            command.arg(&script).arg(&socket);
            command.args(authority);
            let out = command.output().expect("python3 runs");
            assert!(
                out.status.success(),
                "python3 with grpcio (make deps): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
    };
    let default = call(None).await.expect("join");
    assert!(
        default.starts_with("ERR INTERNAL") && default.contains("RST_STREAM"),
        "default options: the socket path as :authority is refused by h2: {default}"
    );
    let localhost = call(Some("localhost")).await.expect("join");
    assert_eq!(localhost, "OK openshift", "with grpc.default_authority=localhost");
}

/// Runs `openshell-driver-openshift client ARGS` against `socket`: (exit ok, stdout, stderr).
fn run_client(socket: &Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-driver-openshift"))
        .arg("client")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("client runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `client create -f` reads the protobuf JSON mapping: the proto's own field names (here
/// `spec.resource_requirements.gpu.count`, which reaches the driver's GPU check) or
/// lowerCamelCase, and refuses an unknown field naming its path, before any RPC.
#[tokio::test]
async fn client_create_reads_a_request_in_the_wire_json() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("request file");
        path.to_string_lossy().into_owned()
    };
    let gpus = |count: u32| {
        format!(
            "id: 5a1d8c0e-2222-4c2b-8d3e-00000000000{count}\nname: gpu{count}\nspec:\n  resource_requirements: {{gpu: {{count: {count}}}}}\n  template: {{image: registry.example/agent:1}}\n"
        )
    };
    let cases = [
        ("within.yaml", gpus(common::memory::FAKE_GPUS), None),
        ("above.yaml", gpus(common::memory::FAKE_GPUS + 1), Some("FailedPrecondition")),
        (
            "camel.json",
            r#"{"id": "5a1d8c0e-2222-4c2b-8d3e-000000000009", "name": "camel",
                "spec": {"resourceRequirements": {"gpu": {"count": 9}}, "template": {"image": "registry.example/agent:1"}}}"#
                .to_string(),
            Some("FailedPrecondition"),
        ),
        ("hand-copy.yaml", "name: old\nspec: {gpu: {count: 1}}\n".to_string(), Some("spec.gpu: unknown field `gpu`")),
    ];
    for (file, text, want) in cases {
        let path = write(file, &text);
        let socket = server.socket.clone();
        let (ok, _, err) = tokio::task::spawn_blocking(move || run_client(&socket, &["create", "-f", &path]))
            .await
            .expect("join");
        match want {
            None => assert!(ok, "{file}: {err}"),
            Some(text) => assert!(!ok && err.contains(text), "{file}: {err}"),
        }
    }
}

#[tokio::test]
async fn client_subcommand_walks_a_sandbox_through_its_life() {
    let server = Server::start().await;
    let socket = server.socket.clone();
    let run = move |args: Vec<&'static str>| {
        let socket = socket.clone();
        tokio::task::spawn_blocking(move || run_client(&socket, &args))
    };
    let (ok, out, err) = run(vec!["capabilities", "-o", "json"]).await.expect("join");
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).expect("json")["driverName"],
        "openshift",
        "the canonical protobuf JSON: lowerCamelCase"
    );

    let id = "5a1d8c0e-1111-4c2b-8d3e-000000000001";
    let (ok, out, err) = run(vec![
        "create",
        "--id",
        id,
        "--name",
        "cli",
        "--image",
        "registry.example/agent:1",
        "--env",
        "A=B",
        "--cpu",
        "500m",
        "--memory",
        "256Mi",
    ])
    .await
    .expect("join");
    assert!(ok, "{err}");
    assert_eq!(out.trim(), id);
    let (ok, out, _) = run(vec!["list"]).await.expect("join");
    assert!(
        ok && out.starts_with("ID") && out.contains(id) && out.contains("ready"),
        "{out}"
    );
    let (ok, out, _) = run(vec!["get", id, "-o", "yaml"]).await.expect("join");
    assert!(ok, "{out}");
    // The YAML is the wire's own mapping: it reads back as the DriverSandbox the driver serves.
    let got: DriverSandbox = openshell_driver_openshift::proto::json::from_text(&out).expect("a DriverSandbox");
    assert_eq!(got.id, id);
    assert_eq!(
        openshell_driver_openshift::proto::phase::gateway_phase(&got),
        "ready",
        "{out}"
    );
    let (ok, out, _) = run(vec!["endpoint", id, "-o", "json"]).await.expect("join");
    assert!(ok, "{out}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).expect("json")["podIps"][0],
        "10.244.0.9"
    );
    let (ok, _, err) = run(vec!["wait", id, "--for", "ready", "--timeout", "5s"])
        .await
        .expect("join");
    assert!(ok, "{err}");
    for (cmd, want) in [("stop", "stopped"), ("start", "started"), ("delete", "deleted")] {
        let (ok, out, err) = run(vec![cmd, id]).await.expect("join");
        assert!(ok && out.contains(want), "{cmd}: {out} {err}");
    }
    let (ok, out, _) = run(vec!["delete", id]).await.expect("join");
    assert!(ok && out.contains("already absent"), "{out}");

    let (ok, _, err) = run(vec!["get", id]).await.expect("join");
    assert!(!ok, "a failed call exits non-zero");
    assert!(err.contains("NotFound"), "prints the gRPC code: {err}");
    let (ok, _, err) = run(vec!["create", "--name", "Bad_Name", "--image", "x"])
        .await
        .expect("join");
    assert!(!ok && err.contains("InvalidArgument"), "{err}");
}
