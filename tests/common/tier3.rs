//! The tier-3 environment: one namespace on the local cluster and one driver in it, running
//! under exactly `deploy/rbac.yaml` (never as admin), with the client TLS Secret in place.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams};
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::*;

use super::cluster::{CLIENT_TLS_SECRET, Cluster, unique_namespace};
use super::*;

pub const READY_WITHIN: Duration = Duration::from_secs(60);

/// One namespace, one restricted driver.
pub struct Env {
    pub cluster: Cluster,
    pub namespace: String,
    pub driver: DriverProcess,
    pub kube: kube::Client,
    pub _dir: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(None, &[]).await
    }

    pub async fn start_with(drop_permission: Option<&str>, extra_args: &[&str]) -> Self {
        let cluster = Cluster::from_env();
        let namespace = unique_namespace("t3");
        cluster.create_namespace(&namespace);
        cluster.apply_client_tls_secret(&namespace, &["ca.crt", "tls.crt", "tls.key"]);
        // An https gateway with its client TLS Secret, unless the test names its own endpoint.
        let tls_defaults: &[&str] = if extra_args.contains(&"--gateway-endpoint") {
            &[]
        } else {
            &[
                "--gateway-endpoint",
                "https://gateway.test:8443",
                "--client-tls-secret",
                CLIENT_TLS_SECRET,
            ]
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = cluster.driver_identity(&namespace, dir.path(), drop_permission);
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let mut args = vec!["--namespace", &namespace, "--gateway-id", &namespace];
        args.extend_from_slice(tls_defaults);
        args.extend_from_slice(extra_args);
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig)]).await;
        let kube = cluster.client().await;
        Self {
            cluster,
            namespace,
            driver,
            kube,
            _dir: dir,
        }
    }

    pub fn sandboxes(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.kube.clone(),
            &self.namespace,
            &sandbox_resource(SandboxApiVersion::V1beta1),
        )
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.kube.clone(), &self.namespace)
    }

    pub fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.kube.clone(), &self.namespace)
    }

    pub async fn create(&self, id: &str, name: &str) {
        let mut client = self.driver.client().await;
        validate_and_create(&mut client, sandbox_request(id, name)).await;
    }

    pub async fn get(&self, id: &str) -> Result<DriverSandbox, tonic::Status> {
        let mut client = self.driver.client().await;
        let r = client.get_sandbox(get_request(id)).await?;
        Ok(r.into_inner().sandbox.expect("sandbox"))
    }

    /// No Sandbox and no Secret of the driver's in the namespace: a refused create wrote nothing.
    pub async fn assert_nothing_written(&self) {
        let sandboxes = self.sandboxes().list(&ListParams::default()).await.expect("list");
        let secrets = self
            .secrets()
            .list(&ListParams::default().labels("openshell.ai/managed-by=openshell"))
            .await
            .expect("list");
        assert!(
            sandboxes.items.is_empty() && secrets.items.is_empty(),
            "nothing left behind"
        );
    }

    /// The Pod the controller makes for Sandbox `name`, once it is there.
    pub async fn stored_pod(&self, name: &str) -> Pod {
        eventually(READY_WITHIN, "the controller's Pod", || async {
            self.pods().get_opt(name).await.ok().flatten()
        })
        .await
    }

    pub async fn wait_ready(&self, id: &str) -> DriverSandbox {
        wait_until_ready(&self.driver.client().await, id, READY_WITHIN).await
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self
            .cluster
            .try_kubectl(&["delete", "namespace", &self.namespace, "--wait=false"], None);
        let _ = self.cluster.try_kubectl(
            &[
                "delete",
                "clusterrole,clusterrolebinding",
                &format!("openshell-driver-{}", self.namespace),
                "--wait=false",
            ],
            None,
        );
    }
}

/// A driver in managed workspace mode under `deploy/rbac-managed.yaml`: its own namespace
/// (`home`, holding the client TLS Secret) and workspaces `{home}-{workspace}`.
pub struct ManagedEnv {
    pub cluster: Cluster,
    pub home: String,
    pub prefix: String,
    pub driver: DriverProcess,
    pub _dir: tempfile::TempDir,
}

impl ManagedEnv {
    pub async fn start(tag: &str) -> Self {
        Self::start_with(tag, &[], |_, _| {}).await
    }

    /// With more flags, and `before` run (on the cluster and the home namespace) before the
    /// driver starts.
    pub async fn start_with(tag: &str, extra_args: &[&str], before: impl FnOnce(&Cluster, &str)) -> Self {
        let cluster = Cluster::from_env();
        let home = unique_namespace(tag);
        cluster.create_namespace(&home);
        cluster.apply_client_tls_secret(&home, &["ca.crt", "tls.crt", "tls.key"]);
        before(&cluster, &home);
        let dir = tempfile::tempdir().expect("tempdir");
        // The chart test runs these with the chart's rendered managed RBAC instead.
        let rbac =
            std::env::var("OPENSHELL_TEST_MANAGED_RBAC_FILE").unwrap_or_else(|_| "deploy/rbac-managed.yaml".into());
        let kubeconfig = cluster.driver_identity_from(&rbac, &home, dir.path(), None);
        let kubeconfig = kubeconfig.to_string_lossy().into_owned();
        let prefix = format!("{home}-");
        let mut args = vec![
            "--workspace-mode",
            "managed",
            "--workspace-namespace-prefix",
            &prefix,
            "--gateway-id",
            &home,
            "--namespace",
            &home,
            "--gateway-endpoint",
            "https://gateway.test:8443",
            "--client-tls-secret",
            CLIENT_TLS_SECRET,
        ];
        args.extend_from_slice(extra_args);
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig)]).await;
        Self {
            cluster,
            home,
            prefix,
            driver,
            _dir: dir,
        }
    }
}
