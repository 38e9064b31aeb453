//! CreateSandbox: the workspace first, then the platform's changes, the Sandbox, and what it
//! owns; a failure after the Sandbox was written removes it again.

use std::time::Instant;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams, Preconditions};

use super::KubeProvisioner;
use crate::config::WorkspaceMode;
use crate::error::DriverError;
use crate::kubernetes::enricher::CreatedSandbox;
use crate::kubernetes::identity::{LABEL_SANDBOX_ID, SandboxIdentity};
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion, owned_by_sandbox};
use crate::kubernetes::supervisor::require_token_source;
use crate::proto::DriverSandbox;

impl KubeProvisioner {
    pub(super) async fn create_sandbox(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        let version = self.ready_api().await?;
        let mut rendered = self.render(sandbox, version)?;
        self.require_allowed(&rendered.identity.namespace)?;
        require_token_source(&sandbox.spec.clone().unwrap_or_default(), &self.config)?;
        // The namespace first: a platform enricher may read it (OpenShift: its SCC annotations).
        let remembered = self.prepare_workspace(&rendered.identity).await?;
        self.enricher.enrich(sandbox, &mut rendered).await?;
        self.require_free_claim(&rendered).await?;
        rendered.stamp_expiry(k8s_openapi::jiff::Timestamp::now())?;
        let identity = &rendered.identity;
        if !self.config.warm_profiles.is_empty() {
            if self.already_created(identity).await? {
                return Ok(());
            }
            if let Some(created) = self.bind_warm(version, sandbox, &rendered).await? {
                // The bind wrote the token Secret; the rest is as for a cold create.
                self.create_network_policy(&rendered, &created).await?;
                self.enricher.after_create(sandbox, &rendered, &created).await?;
                self.metrics.sandbox_created();
                return Ok(());
            }
        }
        let (created, made_here) = match self.write_sandbox(version, &rendered).await {
            // The namespace went away after it was prepared: prepare it again, once.
            Err(DriverError::FailedPrecondition(_)) if remembered => {
                self.prepared.forget(&identity.namespace);
                self.prepare_workspace(identity).await?;
                self.write_sandbox(version, &rendered).await?
            }
            written => written?,
        };
        let companions = async {
            self.create_token_secret(&rendered, &created).await?;
            self.create_network_policy(&rendered, &created).await?;
            self.enricher.after_create(sandbox, &rendered, &created).await
        };
        if let Err(e) = companions.await {
            if made_here {
                self.undo_create(&created).await;
            }
            self.metrics.sandbox_failed(e.metric_label());
            return Err(e);
        }
        if made_here {
            self.metrics.sandbox_created();
            tracing::info!(sandbox_id = %identity.id, namespace = %identity.namespace, name = %identity.object_name, "sandbox created");
        }
        Ok(())
    }

    /// What must exist before the Sandbox: the client TLS Secret and the sandbox ServiceAccount,
    /// and in managed mode the workspace namespace; outside shared mode, the copied Secrets.
    /// A namespace prepared a moment ago from the same sources is not prepared again
    /// ([`crate::kubernetes::prepared`]); `Ok(true)` says so.
    async fn prepare_workspace(&self, identity: &SandboxIdentity) -> Result<bool, DriverError> {
        let namespace = &identity.namespace;
        match self.config.workspace_mode {
            WorkspaceMode::Shared => {
                self.client_tls_source().await?;
                self.require_service_account(namespace).await?;
                return Ok(false);
            }
            _ if self.already_prepared(namespace) => return Ok(true),
            // The platform team's namespace: its ServiceAccount must be there.
            WorkspaceMode::Operator => self.require_service_account(namespace).await?,
            WorkspaceMode::Managed => {
                self.ensure_namespace(&identity.workspace).await?;
                self.ensure_service_account(namespace).await?;
            }
        }
        let copied = self.copy_secrets_into(namespace).await?;
        self.prepared.record(namespace, copied, Instant::now());
        Ok(false)
    }

    /// With a pool, a bound sandbox's object is the member's, not named after the request, so
    /// a retry of a create is recognised by its id in the cache, not by a name conflict.
    async fn already_created(&self, identity: &SandboxIdentity) -> Result<bool, DriverError> {
        self.synced().await?;
        let Some(view) = self.cache.read(|i| i.get(&identity.id)) else {
            return Ok(false);
        };
        if view.snapshot.name != identity.name || view.snapshot.workspace != identity.workspace {
            return Err(DriverError::AlreadyExists(format!(
                "sandbox id {} is already sandbox {:?} in workspace {:?}",
                identity.id, view.snapshot.name, view.snapshot.workspace
            )));
        }
        Ok(true)
    }

    fn already_prepared(&self, namespace: &str) -> bool {
        self.watched_sources()
            .is_some_and(|sources| self.prepared.is_current(namespace, &sources, Instant::now()))
    }

    /// Writes the Sandbox; `true` when this call made it, `false` for a retry of the same create
    /// (same id), which finishes whatever the first attempt left undone.
    async fn write_sandbox(
        &self,
        version: SandboxApiVersion,
        rendered: &RenderedSandbox,
    ) -> Result<(CreatedSandbox, bool), DriverError> {
        let identity = &rendered.identity;
        let api = self.sandboxes_in(version, &identity.namespace);
        let object: DynamicObject = serde_json::to_value(&rendered.manifest)
            .and_then(serde_json::from_value)
            .map_err(|e| DriverError::Internal(format!("encoding the Sandbox: {e}")))?;
        let (stored, made_here) = match self
            .kube
            .call("create", "sandboxes", api.create(&PostParams::default(), &object))
            .await
        {
            Ok(stored) => (stored, true),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self
                    .kube
                    .call("get", "sandboxes", api.get(&identity.object_name))
                    .await?;
                if existing.labels().get(LABEL_SANDBOX_ID) != Some(&identity.id) {
                    return Err(DriverError::AlreadyExists(format!(
                        "a sandbox named {:?} already exists in workspace {:?}",
                        identity.name, identity.workspace
                    )));
                }
                (existing, false)
            }
            Err(e) => {
                let e = create_failure(e, &identity.namespace);
                self.metrics.sandbox_failed(e.metric_label());
                return Err(e);
            }
        };
        let created = CreatedSandbox {
            api: version,
            namespace: identity.namespace.clone(),
            name: identity.object_name.clone(),
            uid: stored.uid().unwrap_or_default(),
        };
        Ok((created, made_here))
    }

    /// Creates the token Secret owned by the Sandbox. A Secret left by an earlier attempt of
    /// the same create (same id, so same name) is fine.
    async fn create_token_secret(
        &self,
        rendered: &RenderedSandbox,
        created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        let Some(mut secret) = rendered.token_secret.clone() else {
            return Ok(());
        };
        secret.metadata.owner_references = Some(vec![owned_by_sandbox(created.api, &created.name, &created.uid)]);
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &created.namespace);
        match self
            .kube
            .call("create", "secrets", secrets.create(&PostParams::default(), &secret))
            .await
        {
            Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Creates the gateway-only NetworkPolicy owned by the Sandbox (an earlier attempt's is fine).
    async fn create_network_policy(
        &self,
        rendered: &RenderedSandbox,
        created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        use k8s_openapi::api::networking::v1::NetworkPolicy;
        let Some(mut policy) = rendered.network_policy.clone() else {
            return Ok(());
        };
        policy.metadata.owner_references = Some(vec![owned_by_sandbox(created.api, &created.name, &created.uid)]);
        let policies: Api<NetworkPolicy> = Api::namespaced(self.kube.client.clone(), &created.namespace);
        match self
            .kube
            .call(
                "create",
                "networkpolicies",
                policies.create(&PostParams::default(), &policy),
            )
            .await
        {
            Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes a Sandbox this call made, after a later step failed (its Secret goes with it).
    async fn undo_create(&self, created: &CreatedSandbox) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(created.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        if let Err(e) = self
            .kube
            .call(
                "delete",
                "sandboxes",
                self.sandboxes_in(created.api, &created.namespace)
                    .delete(&created.name, &params),
            )
            .await
        {
            tracing::error!(namespace = %created.namespace, name = %created.name, error = %e, "could not remove a half-created sandbox");
        }
    }
}

/// A 404 on create means the namespace (or the Sandbox API) is missing: for the gateway that is a
/// precondition of the create, not an absent sandbox.
fn create_failure(err: DriverError, namespace: &str) -> DriverError {
    match err {
        DriverError::NotFound(msg) => DriverError::FailedPrecondition(format!(
            "cannot create the Sandbox in namespace {namespace}: {msg} (does the namespace exist, and is the Sandbox CRD installed?)"
        )),
        other => other,
    }
}

#[cfg(test)]
#[path = "create_tests.rs"]
mod tests;
