//! The OpenShift tier-3 environment (tests/cluster_openshift.rs): OpenShift's CRDs, an annotated
//! namespace with its own copy of the shipped SCC, and a driver under exactly the shipped RBAC.

use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use openshell_driver_openshift::proto::json::json_to_struct;
use openshell_driver_openshift::proto::*;
use serde_json::{Value, json};

use super::cluster::{Cluster, rbac_for, unique_namespace};
use super::openshift::{SCC_RESOURCE, for_scc, scc_copy};
use super::{DriverProcess, sandbox_request, wait_until_ready};

pub const READY_WITHIN: Duration = Duration::from_secs(60);
pub const GC_WITHIN: Duration = Duration::from_secs(60);
pub const UID_RANGE: &str = "1000680000/10000";
pub const GROUPS: &str = "1000690000/10000";
pub const MCS: &str = "s0:c26,c5";

/// `OPENSHIFT_CRDS`: the CRD files of github.com/openshift/api that hack/cluster/build.sh lists.
pub fn openshift_crds() -> Vec<String> {
    let list = std::env::var("OPENSHIFT_CRDS").expect("OPENSHIFT_CRDS (set by hack/test-integration.sh)");
    list.split(':').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// OpenShift's CRDs, installed once per run (idempotent; other runs may have them already).
pub fn install_openshift_apis(cluster: &Cluster) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        for crd in openshift_crds() {
            cluster.kubectl(&["apply", "--server-side", "-f", &crd], None);
        }
        cluster.kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "crd/securitycontextconstraints.security.openshift.io",
                "crd/routes.route.openshift.io",
                "--timeout=60s",
            ],
            None,
        );
    });
}

/// One annotated namespace, its own copy of the shipped SCC, one restricted driver.
pub struct OpenShiftEnv {
    pub cluster: Cluster,
    pub namespace: String,
    pub scc: String,
    pub driver: DriverProcess,
    pub kubeconfig: PathBuf,
    pub _dir: tempfile::TempDir,
}

impl OpenShiftEnv {
    /// `selinux_type` fixes that type in the SCC (as deploy/openshift/scc.yaml describes);
    /// `openshift_rbac` adds deploy/openshift/rbac.yaml to the driver's rules.
    pub async fn start(driver_args: &[&str], selinux_type: Option<&str>, openshift_rbac: bool) -> Self {
        let cluster = Cluster::from_env();
        install_openshift_apis(&cluster);
        let namespace = unique_namespace("ocp");
        cluster.create_namespace(&namespace);
        cluster.kubectl(
            &[
                "annotate",
                "namespace",
                &namespace,
                &format!("openshift.io/sa.scc.uid-range={UID_RANGE}"),
                &format!("openshift.io/sa.scc.supplemental-groups={GROUPS}"),
                &format!("openshift.io/sa.scc.mcs={MCS}"),
            ],
            None,
        );
        let scc = format!("openshell-sandbox-{namespace}");
        cluster.kubectl(&["apply", "-f", "-"], Some(&scc_copy(&scc, selinux_type)));
        let dir = tempfile::tempdir().expect("tempdir");
        // The chart test runs this suite with the chart's RBAC (openshift.enabled), one file.
        let (base, extra) = match std::env::var("OPENSHELL_TEST_RBAC_FILE") {
            Ok(chart) => (chart, None),
            Err(_) => ("deploy/rbac.yaml".to_string(), Some("deploy/openshift/rbac.yaml")),
        };
        let base = for_scc(&rbac_for(&base, &namespace, None), &scc);
        cluster.kubectl(&["apply", "-f", "-"], Some(&base));
        if let Some(extra) = extra.filter(|_| openshift_rbac) {
            let rules = for_scc(&rbac_for(extra, &namespace, None), &scc);
            cluster.kubectl(&["apply", "-f", "-"], Some(&rules));
        }
        let kubeconfig = cluster.driver_identity_from_applied(&namespace, dir.path());
        let kubeconfig_env = kubeconfig.to_string_lossy().into_owned();
        let mut args = vec!["--namespace", &namespace, "--gateway-id", &namespace, "--scc", &scc];
        args.extend_from_slice(driver_args);
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig_env)]).await;
        Self {
            cluster,
            namespace,
            scc,
            driver,
            kubeconfig,
            _dir: dir,
        }
    }

    /// What `oc adm policy add-scc-to-user` would do: the grant of deploy/openshift/scc.yaml.
    pub fn grant_scc(&self) {
        super::openshift::grant_scc(&self.cluster, &self.namespace, &self.scc);
    }

    pub fn get_json(&self, kind: &str, name: &str) -> Option<Value> {
        let out = self
            .cluster
            .try_kubectl(&["get", kind, name, "-n", &self.namespace, "-o", "json"], None)
            .ok()?;
        serde_json::from_str(&out).ok()
    }

    pub fn names(&self, kind: &str) -> Vec<String> {
        self.cluster
            .kubectl(&["get", kind, "-n", &self.namespace, "-o", "name"], None)
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub async fn wait_ready(&self, id: &str) {
        wait_until_ready(&self.driver.client().await, id, READY_WITHIN).await;
    }

    /// Writes a Route's status as a router would.
    pub fn set_route_status(&self, route: &str, ingress: Value) {
        let status = json!({"status": {"ingress": ingress}}).to_string();
        let ns = &self.namespace;
        let args = [
            "patch",
            "route",
            route,
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            &status,
        ];
        self.cluster.kubectl(&args, None);
    }

    pub async fn route_host(&self, id: &str) -> String {
        let mut client = self.driver.client().await;
        client
            .resolve_sandbox_endpoint(ResolveSandboxEndpointRequest {
                sandbox_id: id.into(),
                sandbox_name: String::new(),
            })
            .await
            .map(|r| r.into_inner().route_host)
            .unwrap_or_default()
    }
}

impl Drop for OpenShiftEnv {
    fn drop(&mut self) {
        let ns = &self.namespace;
        let _ = self
            .cluster
            .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
        let _ = self.cluster.try_kubectl(
            &[
                "delete",
                "clusterrole,clusterrolebinding",
                &format!("openshell-driver-{ns}"),
                &format!("openshell-driver-openshift-{ns}"),
                &format!("openshell-sandbox-scc-{ns}"),
                "--ignore-not-found",
                "--wait=false",
            ],
            None,
        );
        let _ = self
            .cluster
            .try_kubectl(&["delete", SCC_RESOURCE, &self.scc, "--ignore-not-found"], None);
    }
}

pub fn exposed_request(id: &str, name: &str, expose: Value) -> DriverSandbox {
    let mut sandbox = sandbox_request(id, name);
    if let Some(template) = sandbox.spec.as_mut().and_then(|s| s.template.as_mut()) {
        template.platform_config = json_to_struct(&json!({ "expose": expose }));
    }
    sandbox
}

pub fn env_value(container: &Value, name: &str) -> Option<String> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str().map(str::to_string))
}

pub fn owner_uid(object: &Value) -> Option<&str> {
    object["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|o| o["kind"] == "Sandbox")?["uid"]
        .as_str()
}
