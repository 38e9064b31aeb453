//! What the OpenShift tiers share: the shipped SCC under a test's own name, RBAC pointed at it,
//! and a managed-mode driver under deploy/rbac-managed.yaml plus deploy/openshift/rbac-managed.yaml.

use std::path::Path;

use super::DriverProcess;
use super::cluster::{Cluster, rbac_for, unique_namespace};

/// The SCC resource by its full name: OpenShift's CRD has no short name.
pub const SCC_RESOURCE: &str = "securitycontextconstraints.security.openshift.io";

/// deploy/openshift/scc.yaml's SCC named `name`, optionally fixing an SELinux type.
pub fn scc_copy(name: &str, selinux_type: Option<&str>) -> String {
    use serde::Deserialize;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/openshift/scc.yaml");
    let text = std::fs::read_to_string(path).expect("scc.yaml");
    let mut scc = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("yaml"))
        .find(|d| d["kind"].as_str() == Some("SecurityContextConstraints"))
        .expect("the SCC");
    scc["metadata"]["name"] = name.into();
    if let Some(t) = selinux_type {
        let context = format!("{{type: MustRunAs, seLinuxOptions: {{type: {t}}}}}");
        scc["seLinuxContext"] = serde_yaml::from_str(&context).expect("yaml");
    }
    serde_yaml::to_string(&scc).expect("yaml")
}

/// RBAC that names the shipped SCC, pointed at this test's copy.
pub fn for_scc(rbac: &str, scc: &str) -> String {
    rbac.replace("- openshell-sandbox\n", &format!("- {scc}\n"))
}

/// A managed-mode driver on OpenShift: its home namespace, its own SCC copy and grant role,
/// workspaces `{home}-{workspace}`. Drop removes home, roles and SCC; tests remove workspaces.
pub struct ManagedOpenShift {
    pub cluster: Cluster,
    pub home: String,
    pub scc: String,
    pub grant_role: String,
    pub prefix: String,
    pub driver: DriverProcess,
    _dir: tempfile::TempDir,
}

impl ManagedOpenShift {
    pub async fn start(cluster: Cluster, tag: &str) -> Self {
        let home = unique_namespace(tag);
        cluster.create_namespace(&home);
        let scc = format!("openshell-sandbox-{home}");
        let grant_role = format!("openshell-sandbox-scc-{home}");
        cluster.kubectl(&["apply", "-f", "-"], Some(&scc_copy(&scc, None)));
        // The SCC's `use` ClusterRole from deploy/openshift/scc.yaml (not its RoleBinding).
        let scc_rbac = for_scc(&rbac_for("deploy/openshift/scc.yaml", &home, None), &scc);
        let role: Vec<&str> = scc_rbac
            .split("---\n")
            .filter(|d| d.contains("kind: ClusterRole\n"))
            .collect();
        cluster.kubectl(&["apply", "-f", "-"], Some(&role.join("---\n")));
        let driver_rbac = [
            rbac_for("deploy/rbac-managed.yaml", &home, None),
            rbac_for("deploy/openshift/rbac-managed.yaml", &home, None),
        ]
        .map(|r| for_scc(&r, &scc).replace("- openshell-sandbox-scc\n", &format!("- {grant_role}\n")));
        cluster.kubectl(&["apply", "-f", "-"], Some(&driver_rbac.join("---\n")));
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = cluster.driver_identity_from_applied(&home, dir.path());
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let prefix = format!("{home}-");
        let args = [
            "--workspace-mode",
            "managed",
            "--workspace-namespace-prefix",
            &prefix,
            "--gateway-id",
            &home,
            "--platform",
            "openshift",
            "--scc",
            &scc,
            "--scc-grant-cluster-role",
            &grant_role,
        ];
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig)]).await;
        Self {
            cluster,
            home,
            scc,
            grant_role,
            prefix,
            driver,
            _dir: dir,
        }
    }
}

impl Drop for ManagedOpenShift {
    fn drop(&mut self) {
        let home = &self.home;
        let _ = (self.cluster).try_kubectl(&["delete", "namespace", home, "--wait=false"], None);
        let roles = [
            format!("openshell-driver-{home}"),
            format!("openshell-driver-openshift-{home}"),
            self.grant_role.clone(),
        ];
        let mut args = vec!["delete", "clusterrole,clusterrolebinding"];
        args.extend(roles.iter().map(String::as_str));
        args.push("--ignore-not-found");
        let _ = self.cluster.try_kubectl(&args, None);
        let _ = (self.cluster).try_kubectl(&["delete", SCC_RESOURCE, &self.scc, "--ignore-not-found"], None);
    }
}

/// What `oc adm policy add-scc-to-user` would do in `namespace`: deploy/openshift/scc.yaml's
/// `use` grant, pointed at `scc`, without the SCC itself.
pub fn grant_scc(cluster: &Cluster, namespace: &str, scc: &str) {
    let grant = for_scc(&rbac_for("deploy/openshift/scc.yaml", namespace, None), scc);
    let docs: Vec<&str> = grant
        .split("---\n")
        .filter(|d| !d.contains("kind: SecurityContextConstraints"))
        .collect();
    cluster.kubectl(&["apply", "-f", "-"], Some(&docs.join("---\n")));
}

/// What OpenShift's namespace allocator gave a namespace: the first UID and supplemental GID of
/// its ranges, and its MCS level. None until the allocator has annotated it.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub uid: String,
    pub gid: String,
    pub mcs: String,
}

pub fn allocation_now(cluster: &Cluster, namespace: &str) -> Option<Allocation> {
    let out = cluster
        .try_kubectl(&["get", "namespace", namespace, "-o", "json"], None)
        .ok()?;
    let ns: serde_json::Value = serde_json::from_str(&out).ok()?;
    let a = &ns["metadata"]["annotations"];
    let first = |key: &str| a[key].as_str()?.split('/').next().map(str::to_string);
    Some(Allocation {
        uid: first("openshift.io/sa.scc.uid-range")?,
        gid: first("openshift.io/sa.scc.supplemental-groups")?,
        mcs: a["openshift.io/sa.scc.mcs"].as_str()?.to_string(),
    })
}

/// A shared-mode driver's OpenShift setup in `namespace`: a copy of the shipped SCC named after
/// the namespace, its grant to the sandbox ServiceAccount, and deploy/rbac.yaml plus
/// deploy/openshift/rbac.yaml pointed at it. Returns the SCC's name; the driver's identity is
/// then `cluster.driver_identity_from_applied(namespace, ..)`.
pub fn shared_mode_scc(cluster: &Cluster, namespace: &str) -> String {
    let scc = format!("openshell-sandbox-{namespace}");
    cluster.kubectl(&["apply", "-f", "-"], Some(&scc_copy(&scc, None)));
    grant_scc(cluster, namespace, &scc);
    let rbac = [
        rbac_for("deploy/rbac.yaml", namespace, None),
        rbac_for("deploy/openshift/rbac.yaml", namespace, None),
    ]
    .map(|r| for_scc(&r, &scc));
    cluster.kubectl(&["apply", "-f", "-"], Some(&rbac.join("---\n")));
    scc
}
