//! What a sandbox needs around it: the workspace namespace, the sandbox ServiceAccount and the
//! client TLS Secret (checked here; `copies` copies it into workspace namespaces).

use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use super::KubeProvisioner;
use crate::error::DriverError;
use crate::kubernetes::identity::{LABEL_WORKSPACE, workspace_namespace};
use crate::kubernetes::render::sandbox_service_account;
use crate::kubernetes::supervisor::missing_tls_keys;

impl KubeProvisioner {
    pub(super) async fn ensure_namespace(&self, workspace: &str) -> Result<(), DriverError> {
        let name = workspace_namespace(&self.config, workspace);
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                labels: Some({
                    let mut labels = self.ownership().labels();
                    labels.insert(LABEL_WORKSPACE.to_string(), workspace.to_string());
                    labels
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        match self
            .kube
            .call("create", "namespaces", namespaces.create(&PostParams::default(), &ns))
            .await
        {
            Ok(_) => Ok(()),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self.kube.call("get", "namespaces", namespaces.get(&name)).await?;
                if self.ownership().owns(existing.labels()) {
                    Ok(())
                } else {
                    Err(DriverError::FailedPrecondition(format!(
                        "namespace {name} exists but is not managed by this driver (labels {})",
                        self.ownership().selector()
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Managed mode: the sandbox pods' ServiceAccount in a workspace namespace, labelled as ours
    /// and without an automounted token (the supervisor gets a projected one). One that exists
    /// already (ours, or the operator's) is used as it is.
    pub(super) async fn ensure_service_account(&self, namespace: &str) -> Result<(), DriverError> {
        let name = sandbox_service_account(&self.config.sandbox_service_account);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.kube.client.clone(), namespace);
        let account = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.to_string()),
                labels: Some(self.ownership().labels()),
                ..Default::default()
            },
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        match self
            .kube
            .call(
                "create",
                "serviceaccounts",
                accounts.create(&PostParams::default(), &account),
            )
            .await
        {
            Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Shared and operator mode: the sandbox pods' ServiceAccount must exist in `namespace`, or
    /// the pod is never made.
    pub(super) async fn require_service_account(&self, namespace: &str) -> Result<(), DriverError> {
        // Shared mode's watch; its "absent" may be a moment old: only "present" skips the lookup.
        if namespace == self.config.namespace && self.sandbox_account.present().is_some() {
            return Ok(());
        }
        let name = sandbox_service_account(&self.config.sandbox_service_account);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.kube.client.clone(), namespace);
        match self.kube.call("get", "serviceaccounts", accounts.get(&name)).await {
            Ok(_) => Ok(()),
            Err(DriverError::NotFound(_)) => Err(DriverError::FailedPrecondition(format!(
                "the sandbox ServiceAccount {name} (--sandbox-service-account) does not exist in namespace {namespace}"
            ))),
            Err(e) => Err(e),
        }
    }

    /// The client TLS Secret in the driver's namespace, checked for its three keys, so a
    /// create never leaves a pod the kubelet cannot start. `None` without --client-tls-secret.
    pub(super) async fn client_tls_source(&self) -> Result<Option<Secret>, DriverError> {
        let name = &self.config.client_tls_secret;
        if name.is_empty() {
            return Ok(None);
        }
        // The watch's copy is current; anything else (not yet listed, absent a moment ago,
        // no list/watch right) is looked up, so a refusal is never stale.
        if let Some(secret) = self.client_tls.present() {
            check_client_tls(&secret, &self.config.namespace)?;
            return Ok(Some((*secret).clone()));
        }
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &self.config.namespace);
        let secret = match self.kube.call("get", "secrets", secrets.get(name)).await {
            Ok(s) => s,
            Err(DriverError::NotFound(_)) => {
                return Err(DriverError::FailedPrecondition(format!(
                    "the client TLS Secret {name} (--client-tls-secret) does not exist in namespace {}",
                    self.config.namespace
                )));
            }
            Err(e) => return Err(e),
        };
        check_client_tls(&secret, &self.config.namespace)?;
        Ok(Some(secret))
    }
}

/// A client TLS Secret the supervisor can use: the three files it reads, none empty.
fn check_client_tls(secret: &Secret, namespace: &str) -> Result<(), DriverError> {
    let missing = missing_tls_keys(secret);
    if missing.is_empty() {
        return Ok(());
    }
    Err(DriverError::FailedPrecondition(format!(
        "the client TLS Secret {} in namespace {namespace} lacks {} (it needs ca.crt, tls.crt and tls.key, as a kubernetes.io/tls Secret with the CA added)",
        secret.name_any(),
        missing.join(", ")
    )))
}

#[cfg(test)]
#[path = "workspace_tests.rs"]
mod tests;
