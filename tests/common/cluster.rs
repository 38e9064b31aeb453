//! Access to the local cluster of `hack/cluster/up.sh` for tier 3.

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::config::{KubeConfigOptions, Kubeconfig};

/// The cluster named by `KUBECONFIG` (as `make test-integration` sets it) and its kubectl.
/// The client TLS Secret tier 3 gives its drivers (the name deploy/rbac.yaml may read).
pub const CLIENT_TLS_SECRET: &str = "openshell-client-tls";

pub struct Cluster {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
}

impl Cluster {
    pub fn from_env() -> Self {
        let kubeconfig = std::env::var_os("KUBECONFIG")
            .map(PathBuf::from)
            .expect("tier 3 needs a cluster: run `make test-integration` (it starts one) or set KUBECONFIG");
        let kubectl = std::env::var_os("KUBECTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kubectl"));
        Self { kubeconfig, kubectl }
    }

    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    /// Runs kubectl as cluster admin; panics with its output on failure.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.try_kubectl(args, stdin)
            .unwrap_or_else(|e| panic!("kubectl {args:?} failed: {e}"))
    }

    pub fn try_kubectl(&self, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
        use std::io::Write;
        let mut child = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning {}: {e}", self.kubectl.display()))?;
        if let Some(input) = stdin
            && let Some(mut pipe) = child.stdin.take()
        {
            pipe.write_all(input.as_bytes()).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn create_namespace(&self, name: &str) {
        self.kubectl(&["create", "namespace", name], None);
    }

    /// Writes (or rewrites) the client TLS Secret with exactly `keys`; their contents are
    /// placeholders, since no container reads them on kwok nodes.
    pub fn apply_client_tls_secret(&self, namespace: &str, keys: &[&str]) {
        let data: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|k| (k.to_string(), serde_json::Value::String(format!("placeholder {k}"))))
            .collect();
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": CLIENT_TLS_SECRET, "namespace": namespace},
            "type": "Opaque", "stringData": data,
        });
        let _ = self.try_kubectl(
            &[
                "delete",
                "secret",
                CLIENT_TLS_SECRET,
                "-n",
                namespace,
                "--ignore-not-found",
            ],
            None,
        );
        self.kubectl(&["apply", "-f", "-"], Some(&secret.to_string()));
    }

    /// Applies `deploy/rbac.yaml` for `namespace` (without the rule for `drop_resource`, if
    /// given) and writes a kubeconfig that authenticates as its ServiceAccount.
    pub fn driver_identity(&self, namespace: &str, dir: &Path, drop_resource: Option<&str>) -> PathBuf {
        // The chart test runs tier 3 with the chart's rendered RBAC instead.
        let file = std::env::var("OPENSHELL_TEST_RBAC_FILE").unwrap_or_else(|_| "deploy/rbac.yaml".into());
        self.driver_identity_from(&file, namespace, dir, drop_resource)
    }

    /// Like `driver_identity`, with the RBAC of `rbac_file` (relative to the repository).
    pub fn driver_identity_from(
        &self,
        rbac_file: &str,
        namespace: &str,
        dir: &Path,
        drop_resource: Option<&str>,
    ) -> PathBuf {
        let rbac = rbac_for(rbac_file, namespace, drop_resource);
        self.kubectl(&["apply", "-f", "-"], Some(&rbac));
        self.driver_identity_from_applied(namespace, dir)
    }

    /// A kubeconfig for the `openshell-driver` ServiceAccount of `namespace`, whose RBAC the
    /// caller applied.
    pub fn driver_identity_from_applied(&self, namespace: &str, dir: &Path) -> PathBuf {
        let token = self.kubectl(
            &["create", "token", "openshell-driver", "-n", namespace, "--duration=2h"],
            None,
        );
        let admin = Kubeconfig::read_from(&self.kubeconfig).expect("admin kubeconfig");
        let cluster = admin.clusters[0].cluster.clone().expect("cluster");
        let server = cluster.server.expect("server");
        let ca = cluster.certificate_authority.expect("ca");
        let path = dir.join(format!("driver-{namespace}.kubeconfig"));
        let kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: driver\n  user:\n    token: {}\ncontexts:\n- name: local\n  context: {{cluster: local, user: driver}}\ncurrent-context: local\n",
            token.trim()
        );
        std::fs::write(&path, kubeconfig).expect("write kubeconfig");
        path
    }
}

/// An RBAC file moved to `namespace`: namespaced objects and subjects into it, cluster-scoped
/// names (and the ClusterRoles bindings refer to) suffixed with it, `resourceNames` naming
/// `openshell-system` pointed at it; optionally one resource's rule removed (to prove what a
/// missing permission looks like).
pub fn rbac_for(rbac_file: &str, namespace: &str, drop_resource: Option<&str>) -> String {
    use serde::Deserialize;
    use serde_yaml::Value;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rbac_file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let suffixed = |v: &Value| Value::from(format!("{}-{namespace}", v.as_str().unwrap_or_default()));
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut v = Value::deserialize(doc).expect("yaml");
        let kind = v["kind"].as_str().unwrap_or_default().to_string();
        if kind.starts_with("Cluster") {
            v["metadata"]["name"] = suffixed(&v["metadata"]["name"]);
        } else {
            v["metadata"]["namespace"] = Value::from(namespace);
        }
        if v["roleRef"]["kind"].as_str() == Some("ClusterRole") {
            v["roleRef"]["name"] = suffixed(&v["roleRef"]["name"]);
        }
        if let Some(subjects) = v["subjects"].as_sequence_mut() {
            for s in subjects {
                s["namespace"] = Value::from(namespace);
            }
        }
        if let Some(rules) = v["rules"].as_sequence_mut() {
            if let Some(drop) = drop_resource {
                rules.retain(|r| {
                    !r["resources"]
                        .as_sequence()
                        .is_some_and(|res| res.iter().any(|x| x.as_str() == Some(drop)))
                });
            }
            for names in rules.iter_mut().filter_map(|r| r["resourceNames"].as_sequence_mut()) {
                for name in names.iter_mut().filter(|n| n.as_str() == Some("openshell-system")) {
                    *name = Value::from(namespace);
                }
            }
        }
        docs.push(serde_yaml::to_string(&v).expect("yaml"));
    }
    docs.join("---\n")
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// A namespace name unique to one test.
pub fn unique_namespace(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}
