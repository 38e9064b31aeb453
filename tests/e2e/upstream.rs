//! Upstream's driver (`openshell-driver-kubernetes` from `OPENSHELL_BIN_DIR`) behind the same
//! real gateway, CLI and node, for side-by-side benchmarks. Its flags and needs are read from
//! its source (NVIDIA/OpenShell `crates/openshell-driver-kubernetes`): every sandbox gets a
//! workspace claim (no mode without one), seeded by a `workspace-init` init container, and a
//! projected ServiceAccount token (it has no token-file mode).

use std::path::PathBuf;

use super::tier4::*;

impl Tier4 {
    /// A tier whose driver is upstream's, in shared mode, with the same supervisor image, client
    /// TLS Secret and gateway. Its workspace claims use `class`: bring volumes of that class
    /// (`hostpath_volume`). It runs with the admin kubeconfig: its least-privilege RBAC lives
    /// in upstream's chart, not here.
    pub fn start_upstream(class: &str) -> Self {
        let mut tier = Self::prepare(Platform::Kubernetes, "service-account", false, &[]);
        let socket = tier.dir.path().join("driver/driver.sock");
        // It makes the socket's directory private itself, but does not create it.
        std::fs::create_dir_all(socket.parent().expect("a directory")).expect("the socket's directory");
        let endpoint = tier.endpoint();
        tier.driver_bin = bin_dir().join("openshell-driver-kubernetes");
        tier.driver_args = [
            "--bind-socket",
            &socket.display().to_string(),
            "--kubeconfig-env",
            &tier.cluster.kubeconfig.display().to_string(),
            "--workspace-mode",
            "shared",
            "--sandbox-namespace",
            &tier.namespace,
            "--gateway-id",
            &tier.namespace,
            "--sandbox-service-account",
            "default",
            "--sandbox-image",
            &var("E2E_AGENT_IMAGE"),
            "--sandbox-image-pull-policy",
            "Never",
            "--supervisor-image",
            &var("E2E_SUPERVISOR_IMAGE"),
            "--supervisor-image-pull-policy",
            "Never",
            "--grpc-endpoint",
            &endpoint,
            "--client-tls-secret-name",
            "openshell-client-tls",
        ]
        .map(str::to_string)
        .to_vec();
        tier.driver_env = vec![
            ("OPENSHELL_K8S_WORKSPACE_STORAGE_CLASS".into(), class.into()),
            ("OPENSHELL_K8S_WORKSPACE_DEFAULT_STORAGE_SIZE".into(), "1Gi".into()),
        ];
        tier.launch();
        tier
    }

    /// A hostPath PersistentVolume `name` of `class` (what a provisioner would make), 1 GiB.
    pub fn hostpath_volume(&self, class: &str, name: &str) {
        let path = PathBuf::from(var("E2E_DIR")).join("pv").join(name);
        std::fs::create_dir_all(&path).expect("the volume's directory");
        self.cluster.kubectl(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}}}\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  storageClassName: {class}\n  persistentVolumeReclaimPolicy: Retain\n  hostPath: {{path: {}, type: Directory}}\n",
                path.display()
            )),
        );
    }
}
