//! The Secrets copied into workspace namespaces (`kubernetes::copies`): written with the
//! namespace's other needs on create, and, in managed mode, kept equal to their sources by a
//! watch of each source Secret (a changed source is written into every copy, a deleted one
//! takes its copies with it).

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};
use kube::runtime::watcher;

use super::KubeProvisioner;
use crate::config::WorkspaceMode;
use crate::error::DriverError;
use crate::kubernetes::copies::{CopiedSecret, copied_secrets, copy_is_current, secret_copy};
use crate::kubernetes::prepared::SourceVersion;
use crate::kubernetes::presence::NamedWatch;
use crate::kubernetes::watch::follow;

impl KubeProvisioner {
    /// Copies every source into `namespace` (a workspace namespace of the driver's, or an
    /// allowed one in operator mode). A missing source is FAILED_PRECONDITION naming its flag.
    /// Returns the version of each source copied, for [`crate::kubernetes::prepared::PreparedNamespaces`].
    pub(super) async fn copy_secrets_into(&self, namespace: &str) -> Result<Vec<SourceVersion>, DriverError> {
        let mut copied_versions = Vec::new();
        for copied in copied_secrets(&self.config) {
            let source = if copied.flag == "--client-tls-secret" {
                // Checked for its three keys as well.
                self.client_tls_source().await?
            } else {
                self.source_secret(&copied).await?
            };
            if let Some(source) = source {
                self.write_copy(&source, &copied.name, namespace).await?;
                copied_versions.push(source_version(&copied.name, &source));
            }
        }
        Ok(copied_versions)
    }

    /// The sources' versions as their watches know them now; `None` while any is unknown or
    /// absent (then a create looks them up).
    pub(super) fn watched_sources(&self) -> Option<Vec<SourceVersion>> {
        copied_secrets(&self.config)
            .iter()
            .map(|copied| {
                let secret = self.source_watch(copied)?.present()?;
                Some(source_version(&copied.name, &secret))
            })
            .collect()
    }

    fn source_watch(&self, copied: &CopiedSecret) -> Option<&NamedWatch<Secret>> {
        if copied.flag == "--client-tls-secret" {
            return Some(&self.client_tls);
        }
        self.pull_sources
            .iter()
            .find(|(name, _)| name == &copied.name)
            .map(|(_, watch)| watch)
    }

    async fn source_secret(&self, copied: &CopiedSecret) -> Result<Option<Secret>, DriverError> {
        if let Some(secret) = self.source_watch(copied).and_then(NamedWatch::present) {
            return Ok(Some((*secret).clone()));
        }
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &self.config.namespace);
        match self.kube.call("get", "secrets", secrets.get(&copied.name)).await {
            Ok(s) => Ok(Some(s)),
            Err(DriverError::NotFound(_)) => Err(DriverError::FailedPrecondition(format!(
                "the Secret {} ({}) does not exist in namespace {}",
                copied.name, copied.flag, self.config.namespace
            ))),
            Err(e) => Err(e),
        }
    }

    /// Creates the copy, or brings the driver's existing copy up to date. A Secret of that name
    /// that is not the driver's is left alone: FAILED_PRECONDITION.
    pub(super) async fn write_copy(&self, source: &Secret, name: &str, namespace: &str) -> Result<(), DriverError> {
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), namespace);
        let mut copy = secret_copy(source, name, namespace, self.ownership());
        match self
            .kube
            .call("create", "secrets", secrets.create(&PostParams::default(), &copy))
            .await
        {
            Ok(_) => Ok(()),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self.kube.call("get", "secrets", secrets.get(name)).await?;
                if !self.ownership().owns(existing.labels()) {
                    if existing.data == copy.data && existing.type_ == copy.type_ {
                        return Ok(());
                    }
                    return Err(DriverError::FailedPrecondition(format!(
                        "Secret {name} in namespace {namespace} is not the driver's copy of the Secret of that name in {}; remove it or rename the source",
                        self.config.namespace
                    )));
                }
                if copy_is_current(&existing, &copy) {
                    return Ok(());
                }
                copy.metadata.resource_version = existing.metadata.resource_version;
                self.kube
                    .call(
                        "update",
                        "secrets",
                        secrets.replace(name, &PostParams::default(), &copy),
                    )
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Managed mode: one watch per source Secret (by name, so RBAC can name it too).
    pub(super) async fn watch_copy_sources(self: Arc<Self>) {
        if self.config.workspace_mode != WorkspaceMode::Managed {
            return;
        }
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &self.config.namespace);
        let watches = copied_secrets(&self.config).into_iter().map(|copied| {
            let config = watcher::Config::default().fields(&format!("metadata.name={}", copied.name));
            watcher(secrets.clone(), config).boxed()
        });
        let stream = futures::stream::select_all(watches);
        let (changes, mut pending) = tokio::sync::mpsc::unbounded_channel();
        let this = Arc::clone(&self);
        // The watch only queues; the copies are written one at a time, in order.
        tokio::spawn(async move {
            while let Some(change) = pending.recv().await {
                match change {
                    SourceChange::Changed(source) => this.sync_copies(&source).await,
                    SourceChange::Deleted(name) => this.remove_copies(&name).await,
                }
            }
        });
        follow(stream, self.shutdown.clone(), "source Secret", |event| {
            let change = match event {
                watcher::Event::Apply(s) | watcher::Event::InitApply(s) => SourceChange::Changed(Box::new(s)),
                watcher::Event::Delete(s) => SourceChange::Deleted(s.name_any()),
                watcher::Event::Init | watcher::Event::InitDone => return,
            };
            let _ = changes.send(change);
        })
        .await;
    }

    /// The driver's workspace namespaces (managed mode), by their ownership labels.
    async fn own_namespaces(&self) -> Result<Vec<String>, DriverError> {
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let list = self
            .kube
            .call(
                "list",
                "namespaces",
                namespaces.list(&ListParams::default().labels(&self.ownership().selector())),
            )
            .await?;
        Ok(list
            .items
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
            .map(|n| n.name_any())
            .collect())
    }

    async fn sync_copies(&self, source: &Secret) {
        let name = source.name_any();
        let namespaces = match self.own_namespaces().await {
            Ok(n) => n,
            Err(e) => {
                return tracing::warn!(secret = %name, error = %e, "cannot list workspace namespaces to update copies");
            }
        };
        for namespace in namespaces {
            match self.write_copy(source, &name, &namespace).await {
                Ok(()) => tracing::debug!(secret = %name, namespace = %namespace, "copy up to date"),
                Err(e) => tracing::warn!(secret = %name, namespace = %namespace, error = %e, "copy not updated"),
            }
        }
    }

    /// The source is gone: so are the driver's copies of it (never a Secret that is not ours).
    async fn remove_copies(&self, name: &str) {
        let namespaces = match self.own_namespaces().await {
            Ok(n) => n,
            Err(e) => {
                return tracing::warn!(secret = %name, error = %e, "cannot list workspace namespaces to remove copies");
            }
        };
        for namespace in namespaces {
            let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &namespace);
            let existing = match self.kube.call("get", "secrets", secrets.get(name)).await {
                Ok(s) if self.ownership().owns(s.labels()) => s,
                _ => continue,
            };
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: existing.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match self.kube.call("delete", "secrets", secrets.delete(name, &params)).await {
                Ok(_) | Err(DriverError::NotFound(_)) => {
                    tracing::info!(secret = %name, namespace = %namespace, "source deleted; copy removed")
                }
                Err(e) => tracing::warn!(secret = %name, namespace = %namespace, error = %e, "copy not removed"),
            }
        }
    }
}

fn source_version(name: &str, source: &Secret) -> SourceVersion {
    SourceVersion {
        name: name.to_string(),
        resource_version: source.resource_version().unwrap_or_default(),
    }
}

enum SourceChange {
    Changed(Box<Secret>),
    Deleted(String),
}
