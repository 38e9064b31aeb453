//! The tier-4 harness: one real gateway with its own namespace, PKI, driver and CLI
//! configuration, and the small process helpers the tests share.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::cluster::{Cluster, unique_namespace};
use crate::common::openshift::{allocation_now, shared_mode_scc};

pub const READY_WITHIN: Duration = Duration::from_secs(120);

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run through `make test-e2e`"))
}

pub fn bin_dir() -> PathBuf {
    PathBuf::from(var("OPENSHELL_BIN_DIR"))
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Platform {
    Kubernetes,
    OpenShift,
}

/// One gateway with its own namespace, PKI, driver and CLI configuration.
pub struct Tier4 {
    pub cluster: Cluster,
    pub namespace: String,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub driver_args: Vec<String>,
    /// The driver's program (ours unless a test runs another) and its extra environment.
    pub driver_bin: PathBuf,
    pub driver_env: Vec<(String, String)>,
    pub driver: Option<Child>,
    pub gateway: Option<Child>,
}

impl Tier4 {
    pub fn start(auth: &str) -> Self {
        Self::start_with(auth, false)
    }

    /// `managed`: a namespace per workspace (`openshell-<gateway id>-<workspace>`, the prefix the
    /// gateway's ServiceAccount check accepts in managed mode), with the driver's managed RBAC.
    pub fn start_with(auth: &str, managed: bool) -> Self {
        Self::start_opts(auth, managed, &[])
    }

    /// `extra`: more driver flags (e.g. `--supervisor-sideload init-container`).
    pub fn start_opts(auth: &str, managed: bool, extra: &[&str]) -> Self {
        Self::start_on(Platform::Kubernetes, auth, managed, extra)
    }

    /// On OpenShift (a tier from `E2E_OPENSHIFT=1 hack/e2e/up.sh`): a shared-mode driver with
    /// `--platform openshift`, its own copy of the shipped SCC granted to the sandbox
    /// ServiceAccount, under deploy/rbac.yaml plus deploy/openshift/rbac.yaml.
    pub fn start_openshift(auth: &str) -> Self {
        Self::start_on(Platform::OpenShift, auth, false, &[])
    }

    fn start_on(platform: Platform, auth: &str, managed: bool, extra: &[&str]) -> Self {
        let mut tier = Self::prepare(platform, auth, managed, extra);
        tier.launch();
        tier
    }

    /// The start of `start_on` up to its driver: namespace, PKI, gateway and CLI configuration.
    pub(super) fn prepare(platform: Platform, auth: &str, managed: bool, extra: &[&str]) -> Self {
        let cluster = Cluster::from_env();
        let namespace = unique_namespace("e2e");
        cluster.create_namespace(&namespace);
        let platform_args = match platform {
            Platform::Kubernetes => vec!["--platform".to_string(), "kubernetes".to_string()],
            Platform::OpenShift => {
                wait_for(Duration::from_secs(20), "the namespace allocator's annotations", || {
                    allocation_now(&cluster, &namespace).is_some()
                });
                let scc = shared_mode_scc(&cluster, &namespace);
                ["--platform", "openshift", "--scc", &scc].map(str::to_string).to_vec()
            }
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let pki = dir.path().join("pki");
        run(Command::new(bin_dir().join("openshell-gateway"))
            .args(["generate-certs", "--output-dir"])
            .arg(&pki)
            .args(["--server-san", &var("BRIDGE_IP")]));
        // The client TLS Secret the driver mounts: the gateway's CA and a client certificate.
        let p = |f: &str| pki.join(f).display().to_string();
        cluster.kubectl(
            &[
                "-n",
                &namespace,
                "create",
                "secret",
                "generic",
                "openshell-client-tls",
                &format!("--from-file=ca.crt={}", p("ca.crt")),
                &format!("--from-file=tls.crt={}", p("client/tls.crt")),
                &format!("--from-file=tls.key={}", p("client/tls.key")),
            ],
            None,
        );
        std::fs::write(
            dir.path().join("gateway.toml"),
            format!(
                "[openshell.gateway.gateway_jwt]\nsigning_key_path = {:?}\npublic_key_path = {:?}\nkid_path = {:?}\nttl_secs = 3600\n\n\
                 [openshell.drivers.kubernetes]\nnamespace = {namespace:?}\nservice_account_name = {:?}\n{}",
                p("jwt/signing.pem"),
                p("jwt/public.pem"),
                p("jwt/kid"),
                if managed { "openshell-sandbox" } else { "default" },
                if managed {
                    format!("workspace_mode = \"managed\"\ngateway_id = {namespace:?}\n")
                } else {
                    String::new()
                },
            ),
        )
        .expect("gateway config");
        let cli_mtls = dir.path().join("cli/openshell/gateways/e2e/mtls");
        std::fs::create_dir_all(&cli_mtls).expect("cli dir");
        for (from, to) in [
            ("ca.crt", "ca.crt"),
            ("client/tls.crt", "tls.crt"),
            ("client/tls.key", "tls.key"),
        ] {
            std::fs::copy(pki.join(from), cli_mtls.join(to)).expect("cli cert");
        }
        let socket = dir.path().join("driver/driver.sock");
        let kubeconfig = if platform == Platform::OpenShift {
            cluster.driver_identity_from_applied(&namespace, dir.path())
        } else if managed {
            cluster.driver_identity_from("deploy/rbac-managed.yaml", &namespace, dir.path(), None)
        } else {
            cluster.driver_identity(&namespace, dir.path(), None)
        };
        let mode = if managed { "managed" } else { "shared" };
        let prefix = format!("openshell-{namespace}-");
        let mut driver_args = vec![
            "--workspace-mode".to_string(),
            mode.to_string(),
            "--workspace-namespace-prefix".to_string(),
            prefix,
        ];
        driver_args.extend(
            [
                "--socket",
                &socket.display().to_string(),
                "--kubeconfig-env",
                &kubeconfig.display().to_string(),
                "--namespace",
                &namespace,
                "--gateway-id",
                &namespace,
                "--gateway-endpoint",
                &format!("https://{}:{port}", var("BRIDGE_IP")),
                "--client-tls-secret",
                "openshell-client-tls",
                "--sandbox-auth",
                auth,
                "--supervisor-image",
                &var("E2E_SUPERVISOR_IMAGE"),
                "--launcher-image",
                &var("E2E_LAUNCHER_IMAGE"),
                "--default-image",
                &var("E2E_AGENT_IMAGE"),
                "--image-pull-policy",
                "never",
                "--app-armor-profile",
                "unconfined",
                "--metrics-bind-address",
                "",
                "--log-format",
                "json",
            ]
            .map(str::to_string),
        );
        driver_args.extend(platform_args);
        driver_args.extend(extra.iter().map(|a| a.to_string()));
        Self {
            cluster,
            namespace,
            dir,
            port,
            driver_args,
            driver_bin: PathBuf::from(env!("CARGO_BIN_EXE_openshell-driver-openshift")),
            driver_env: Vec::new(),
            driver: None,
            gateway: None,
        }
    }

    /// Starts the driver and the gateway, and points the CLI at the gateway.
    pub(super) fn launch(&mut self) {
        self.start_driver();
        self.start_gateway();
        let added = self.cli(&["gateway", "add", &self.endpoint(), "--local", "--name", "e2e"]);
        assert!(added.status.success(), "gateway add: {}", text(&added));
    }

    pub fn endpoint(&self) -> String {
        format!("https://{}:{}", var("BRIDGE_IP"), self.port)
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.log"))
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }

    pub fn start_driver(&mut self) {
        // The driver runs under exactly deploy/rbac.yaml; `--kubeconfig-env` is this test's
        // placeholder for KUBECONFIG, which it passes in the environment.
        let mut args = self.driver_args.clone();
        let at = args.iter().position(|a| a == "--kubeconfig-env").expect("placeholder");
        let kubeconfig = args.remove(at + 1);
        args.remove(at);
        let log = append(&self.log_path("driver"));
        let child = Command::new(&self.driver_bin)
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .env("OPENSHELL_DRIVER_LOG_LEVEL", "info,openshell_driver_openshift=debug")
            // The node has no provisioner; tests/e2e/workspace.rs brings a volume and asks.
            .env("OPENSHELL_DRIVER_WORKSPACE_VOLUME", "off")
            .envs(self.driver_env.iter().map(|(k, v)| (k, v)))
            // Ours logs to stderr, upstream's to stdout.
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("driver starts");
        self.driver = Some(child);
        let socket = self.dir.path().join("driver/driver.sock");
        wait_for(Duration::from_secs(20), "the driver's socket", || socket.exists());
    }

    pub fn start_gateway(&mut self) {
        let d = self.dir.path();
        let pki = d.join("pki");
        let log = append(&self.log_path("gateway"));
        let child = Command::new(bin_dir().join("openshell-gateway"))
            .args(["--drivers", "openshift", "--compute-driver-socket"])
            .arg(d.join("driver/driver.sock"))
            .args(["--bind-address", &var("BRIDGE_IP"), "--port", &self.port.to_string()])
            .arg("--tls-cert")
            .arg(pki.join("server/tls.crt"))
            .arg("--tls-key")
            .arg(pki.join("server/tls.key"))
            .arg("--tls-client-ca")
            .arg(pki.join("ca.crt"))
            .args(["--enable-mtls-auth", "true", "--config"])
            .arg(d.join("gateway.toml"))
            .arg("--db-url")
            .arg(format!("sqlite:{}?mode=rwc", d.join("gateway.db").display()))
            // The gateway verifies sandbox ServiceAccount tokens only when it believes it runs
            // in a cluster; its client comes from the admin kubeconfig.
            .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
            .env("KUBERNETES_SERVICE_PORT", "443")
            .env("XDG_CONFIG_HOME", d.join("gateway-config"))
            .env("XDG_STATE_HOME", d.join("gateway-state"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("gateway starts");
        self.gateway = Some(child);
        let probe = format!("{}:{}", var("BRIDGE_IP"), self.port);
        wait_for(Duration::from_secs(30), "the gateway's port", || {
            std::net::TcpStream::connect(&probe).is_ok()
        });
    }

    pub fn stop(child: &mut Option<Child>) {
        if let Some(mut c) = child.take() {
            let pid = rustix::process::Pid::from_raw(c.id() as i32).expect("pid");
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let _ = c.wait();
        }
    }

    pub fn restart_driver(&mut self) {
        Self::stop(&mut self.driver);
        self.start_driver();
    }

    pub fn restart_gateway(&mut self) {
        Self::stop(&mut self.gateway);
        self.start_gateway();
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("openshell"))
            .args(["-g", "e2e"])
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir.path().join("cli"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("cli runs")
    }

    pub fn create(&self, name: &str, image: &str, extra: &[&str]) {
        let mut args = vec![
            "sandbox", "create", "--name", name, "--from", image, "--no-tty", "--detach",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sleep", "infinity"]);
        let out = self.cli(&args);
        assert!(out.status.success(), "create {name}: {}\n{}", text(&out), self.logs());
    }

    pub fn sandbox(&self, name: &str) -> Option<serde_json::Value> {
        let out = self.cli(&["sandbox", "get", name, "-o", "json"]);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    pub fn phase(&self, name: &str) -> String {
        self.sandbox(name)
            .and_then(|s| s["phase"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits for phase Ready: the supervisor started in the pod, authenticated and opened its
    /// session. Returns how long it took.
    pub fn wait_ready(&self, name: &str) -> Duration {
        let start = Instant::now();
        while start.elapsed() < READY_WITHIN {
            match self.phase(name).as_str() {
                "Ready" => return start.elapsed(),
                "Error" => panic!("{name} entered Error\n{}", self.logs()),
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        panic!("{name} not Ready within {READY_WITHIN:?}\n{}", self.logs());
    }

    pub fn exec(&self, name: &str, script: &str) -> Output {
        self.cli(&["sandbox", "exec", "--name", name, "--no-tty", "--", "sh", "-c", script])
    }

    pub fn names_listed(&self) -> Vec<String> {
        strip_colour(&text(&self.cli(&["sandbox", "list"])))
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }

    pub fn object_name(name: &str) -> String {
        format!("default--{name}")
    }

    pub fn kubectl_get(&self, kind: &str, name: &str) -> Option<String> {
        self.cluster
            .try_kubectl(&["-n", &self.namespace, "get", kind, name, "-o", "name"], None)
            .ok()
    }

    pub fn containers_of(&self, name: &str) -> String {
        let out = Command::new(var("CRICTL"))
            .args(["pods", "--name", &Self::object_name(name), "-q"])
            .output()
            .expect("crictl runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn pod_log(&self, name: &str) -> String {
        self.cluster
            .try_kubectl(
                &["-n", &self.namespace, "logs", &Self::object_name(name), "-c", "agent"],
                None,
            )
            .unwrap_or_default()
    }

    pub fn delete_and_check_clean(&self, name: &str) {
        let out = self.cli(&["sandbox", "delete", name]);
        assert!(out.status.success(), "delete: {}", text(&out));
        let object = Self::object_name(name);
        wait_for(READY_WITHIN, "Sandbox, Pod, Secrets and containers gone", || {
            self.kubectl_get("sandbox", &object).is_none()
                && self.kubectl_get("pod", &object).is_none()
                && self
                    .kubectl_get("secret", &format!("{object}-openshell-token"))
                    .is_none()
                && self.containers_of(name).is_empty()
        });
        wait_for(Duration::from_secs(30), "the sandbox gone from the CLI", || {
            !self.names_listed().contains(&name.to_string())
        });
    }

    pub fn logs(&self) -> String {
        let tail = |s: String| {
            s.lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!(
            "--- driver log\n{}\n--- gateway log\n{}",
            tail(self.log("driver")),
            tail(self.log("gateway"))
        )
    }
}

impl Drop for Tier4 {
    fn drop(&mut self) {
        Self::stop(&mut self.gateway);
        Self::stop(&mut self.driver);
        let _ = self
            .cluster
            .try_kubectl(&["delete", "namespace", &self.namespace, "--wait=false"], None);
        if std::thread::panicking() {
            eprintln!("tier 4 logs kept in {}", self.dir.path().display());
            let _ = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir")).keep();
        }
    }
}

pub fn free_port() -> u16 {
    let bind = format!("{}:0", var("BRIDGE_IP"));
    std::net::TcpListener::bind(bind)
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn append(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("log file")
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    out
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < within {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

/// The CLI's table without colour codes.
pub fn strip_colour(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}
