//! Helpers shared by the gRPC (tier 2) and integration (tier 3) tests.
#![allow(dead_code)]

pub mod cluster;
pub mod corpus;
pub mod memory;
pub mod memory_server;
pub mod openshift;
pub mod openshift_env;
pub mod tier3;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient;
use openshell_driver_openshift::proto::watch_sandboxes_event::Payload;
use openshell_driver_openshift::proto::*;
use tonic::transport::Channel;

/// A tonic client over the driver's socket: the same connector the `client` subcommand uses.
pub async fn connect(socket: &Path) -> anyhow::Result<ComputeDriverClient<Channel>> {
    openshell_driver_openshift::cli::client::connect(socket).await
}

/// A kubeconfig whose API server never answers: the driver must start and serve anyway.
pub fn unreachable_kubeconfig(dir: &Path) -> String {
    let path = dir.join("unreachable.kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\nusers:\n- name: x\n  user: {token: t}\ncontexts:\n- name: x\n  context: {cluster: x, user: x}\ncurrent-context: x\n",
    )
    .expect("kubeconfig");
    path.to_string_lossy().into_owned()
}

/// GetSandbox by id, as the gateway asks.
pub fn get_request(id: &str) -> GetSandboxRequest {
    GetSandboxRequest {
        sandbox_id: id.into(),
        sandbox_name: String::new(),
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A create request shaped like the real gateway's.
pub fn sandbox_request(id: &str, name: &str) -> DriverSandbox {
    DriverSandbox {
        id: id.into(),
        name: name.into(),
        workspace: "default".into(),
        namespace: String::new(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/bash".into(), "-l".into()],
            tty: true,
            log_level: "info".into(),
            sandbox_token: "test-token.not-a-real-jwt".into(),
            environment: HashMap::from([("GREETING".into(), "hello".into())]),
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                labels: HashMap::from([("team".into(), "ml".into())]),
                resources: Some(DriverResourceRequirements {
                    cpu_request: "100m".into(),
                    memory_limit: "256Mi".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }
}

pub fn with_gpu(mut sandbox: DriverSandbox, count: Option<u32>) -> DriverSandbox {
    if let Some(spec) = sandbox.spec.as_mut() {
        spec.resource_requirements = Some(ResourceRequirements {
            gpu: Some(GpuResourceRequirements { count }),
        });
    }
    sandbox
}

/// ListSandboxes, unwrapped to the sandboxes.
pub async fn list_all(client: &mut ComputeDriverClient<Channel>) -> Result<Vec<DriverSandbox>, tonic::Status> {
    Ok(client
        .list_sandboxes(ListSandboxesRequest {})
        .await?
        .into_inner()
        .sandboxes)
}

/// GetCapabilities, which never depends on the cluster.
pub async fn capabilities(client: &mut ComputeDriverClient<Channel>) -> GetCapabilitiesResponse {
    client
        .get_capabilities(GetCapabilitiesRequest {})
        .await
        .expect("capabilities")
        .into_inner()
}

/// ValidateSandboxCreate then CreateSandbox, as the gateway calls them; panics on either error.
pub async fn validate_and_create(client: &mut ComputeDriverClient<Channel>, sandbox: DriverSandbox) {
    client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect("validates");
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect("creates");
}

/// Polls GetSandbox until the sandbox is Ready (panics after `within`).
pub async fn wait_until_ready(client: &ComputeDriverClient<Channel>, id: &str, within: Duration) -> DriverSandbox {
    eventually(within, &format!("sandbox {id} Ready through GetSandbox"), || {
        let mut client = client.clone();
        async move {
            let r = client.get_sandbox(get_request(id)).await.ok()?;
            r.into_inner().sandbox.filter(is_ready)
        }
    })
    .await
}

pub fn condition<'a>(sandbox: &'a DriverSandbox, kind: &str) -> Option<&'a DriverCondition> {
    sandbox.status.as_ref()?.conditions.iter().find(|c| c.r#type == kind)
}

pub fn is_ready(sandbox: &DriverSandbox) -> bool {
    condition(sandbox, "Ready").is_some_and(|c| c.status == "True")
}

pub fn is_suspended(sandbox: &DriverSandbox) -> bool {
    condition(sandbox, "Suspended").is_some_and(|c| c.status == "True")
}

/// A watch stream read event by event with a timeout.
pub struct Events(pub tonic::Streaming<WatchSandboxesEvent>);

impl Events {
    pub async fn open(client: &mut ComputeDriverClient<Channel>) -> Self {
        Self(
            client
                .watch_sandboxes(WatchSandboxesRequest {})
                .await
                .expect("watch opens")
                .into_inner(),
        )
    }

    pub async fn next(&mut self, within: Duration) -> Option<WatchSandboxesEvent> {
        match tokio::time::timeout(within, self.0.next()).await {
            Ok(Some(Ok(e))) => Some(e),
            _ => None,
        }
    }

    /// Reads until `want` matches an event (returning it) or `within` passes.
    pub async fn until(
        &mut self,
        within: Duration,
        want: impl Fn(&WatchSandboxesEvent) -> bool,
    ) -> Option<WatchSandboxesEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await?;
            if want(&event) {
                return Some(event);
            }
        }
    }
}

pub fn snapshot_of(event: &WatchSandboxesEvent) -> Option<&DriverSandbox> {
    match &event.payload {
        Some(Payload::Sandbox(s)) => s.sandbox.as_ref(),
        _ => None,
    }
}

pub fn deleted_id(event: &WatchSandboxesEvent) -> Option<&str> {
    match &event.payload {
        Some(Payload::Deleted(d)) => Some(d.sandbox_id.as_str()),
        _ => None,
    }
}

/// The endpoint test drivers give sandboxes (plain http: no client TLS Secret needed).
pub const TEST_GATEWAY_ENDPOINT: &str = "http://gateway.test:8080";

/// The driver binary, started as a child process on a private temporary socket.
pub struct DriverProcess {
    pub child: std::process::Child,
    pub socket: PathBuf,
    pub dir: tempfile::TempDir,
    /// Where the driver serves /healthz, /readyz and /metrics.
    pub metrics_addr: String,
}

impl DriverProcess {
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("run").join("driver.sock");
        let metrics_addr = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            probe.local_addr().expect("addr").to_string()
        };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-driver-openshift"));
        cmd.arg("--socket")
            .arg(&socket)
            .arg("--metrics-bind-address")
            .arg(&metrics_addr)
            .args(args)
            .env("OPENSHELL_DRIVER_LOG_LEVEL", "info,openshell_driver_openshift=debug")
            // `serve` requires an endpoint; a test's own --gateway-endpoint wins over this.
            .env("OPENSHELL_DRIVER_GATEWAY_ENDPOINT", TEST_GATEWAY_ENDPOINT)
            // No provisioner here: a claim would stay Pending. The workspace tests ask for it.
            .env("OPENSHELL_DRIVER_WORKSPACE_VOLUME", "off");
        // Tests are plain Kubernetes unless they ask for a platform: a shared test cluster may
        // serve the OpenShift APIs (tests/cluster_openshift.rs installs them).
        if !args.contains(&"--platform") {
            cmd.args(["--platform", "kubernetes"]);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let log = std::fs::File::create(dir.path().join("driver.log")).expect("log file");
        cmd.stderr(log);
        let child = cmd.spawn().expect("driver starts");
        let process = Self {
            child,
            socket,
            dir,
            metrics_addr,
        };
        // Ready means both listeners answer: the metrics server may bind after the socket.
        for _ in 0..600 {
            if process.socket.exists()
                && connect(&process.socket).await.is_ok()
                && tokio::net::TcpStream::connect(&process.metrics_addr).await.is_ok()
            {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "driver did not open its socket and metrics port; log:\n{}",
            process.log()
        );
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("driver.log")).unwrap_or_default()
    }

    pub async fn client(&self) -> ComputeDriverClient<Channel> {
        connect(&self.socket).await.expect("connects")
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).expect("pid");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        self.child.wait().expect("driver exits")
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns Some, or panics after `within` with `what`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `check -o json` with `kubeconfig`: (exit ok, lines as (check, verdict, detail)).
pub fn run_check(kubeconfig: &Path, args: &[&str]) -> (bool, Vec<(String, String, String)>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openshell-driver-openshift"))
        .arg("check")
        .args(["-o", "json"])
        .args(args)
        .args(if args.contains(&"--platform") {
            &[][..]
        } else {
            &["--platform", "kubernetes"][..]
        })
        .env("KUBECONFIG", kubeconfig)
        .env("OPENSHELL_DRIVER_GATEWAY_ENDPOINT", TEST_GATEWAY_ENDPOINT)
        .env("OPENSHELL_DRIVER_WORKSPACE_VOLUME", "off")
        .output()
        .expect("check runs");
    let lines: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let lines = lines
        .iter()
        .map(|l| {
            let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
            (s("check"), s("verdict"), s("detail"))
        })
        .collect();
    (out.status.success(), lines)
}

pub fn verdict_of<'a>(lines: &'a [(String, String, String)], check: &str) -> Option<&'a str> {
    lines.iter().find(|(c, _, _)| c == check).map(|(_, v, _)| v.as_str())
}

/// A plain HTTP/1.1 GET: (status code, body).
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.expect("reads");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body.to_string())
}

/// The value of the first exposition line that starts with `series` (0 when absent).
pub fn metric_value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}
