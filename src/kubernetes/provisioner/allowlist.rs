//! Operator mode's allowlist, kept current: a Namespace watch for `--operator-namespace-label`
//! and a poll of `--operator-namespace-file`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher;

use super::KubeProvisioner;
use crate::config::WorkspaceMode;
use crate::error::DriverError;
use crate::kubernetes::operator::{FILE_POLL, read_namespace_file};
use crate::kubernetes::watch::follow;

impl KubeProvisioner {
    /// Starts whatever keeps the allowlist (operator mode only).
    pub(super) fn start_allowlist(self: &Arc<Self>) {
        if self.config.workspace_mode != WorkspaceMode::Operator {
            return;
        }
        if !self.config.operator_namespace_label.trim().is_empty() {
            tokio::spawn(Arc::clone(self).watch_allowed_namespaces());
        }
        if self.config.operator_namespace_file.is_some() {
            tokio::spawn(Arc::clone(self).poll_allowlist_file());
        }
    }

    /// The namespaces matching the label, from a watch: a relist replaces the set whole.
    async fn watch_allowed_namespaces(self: Arc<Self>) {
        let selector = self.config.operator_namespace_label.trim().to_string();
        let api: Api<Namespace> = Api::all(self.kube.client.clone());
        let stream = watcher(api, watcher::Config::default().labels(&selector));
        let mut relisting: BTreeSet<String> = BTreeSet::new();
        follow(stream, self.shutdown.clone(), "Namespace", |event| match event {
            watcher::Event::Init => relisting.clear(),
            watcher::Event::InitApply(ns) => {
                relisting.insert(ns.name_any());
            }
            watcher::Event::InitDone => {
                let names = std::mem::take(&mut relisting);
                tracing::info!(namespaces = ?names, selector = %selector, "operator namespace allowlist listed");
                self.allowlist.update(|s| s.label = Some(names));
            }
            watcher::Event::Apply(ns) => {
                let name = ns.name_any();
                // A namespace being deleted takes no new sandboxes.
                let gone = ns.metadata.deletion_timestamp.is_some();
                self.allowlist.update(|s| {
                    let set = s.label.get_or_insert_with(BTreeSet::new);
                    if gone {
                        set.remove(&name)
                    } else {
                        set.insert(name.clone())
                    };
                });
            }
            watcher::Event::Delete(ns) => {
                let name = ns.name_any();
                self.allowlist.update(|s| {
                    if let Some(set) = s.label.as_mut() {
                        set.remove(&name);
                    }
                });
            }
        })
        .await;
    }

    /// Re-reads the file whenever its size or mtime (seen through symlinks, so a ConfigMap's
    /// `..data` swap counts) changes. A file that cannot be read or parsed keeps the last good
    /// list and is logged.
    async fn poll_allowlist_file(self: Arc<Self>) {
        let Some(path) = self.config.operator_namespace_file.clone() else {
            return;
        };
        let stamp = |p: &std::path::Path| -> Option<(u64, SystemTime)> {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
        };
        let mut seen = None;
        let mut shutdown = self.shutdown.clone();
        loop {
            let now = stamp(&path);
            if now != seen {
                match read_namespace_file(&path) {
                    Ok(names) => {
                        if self.allowlist.snapshot().file.as_ref() != Some(&names) {
                            tracing::info!(namespaces = ?names, path = %path.display(), "operator namespace allowlist read");
                        }
                        self.allowlist.update(|s| s.file = Some(names));
                        seen = now;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "--operator-namespace-file unreadable; keeping the last allowlist");
                        seen = now;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(FILE_POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Operator mode: the workspace's namespace must be on the allowlist.
    pub(super) fn require_allowed(&self, namespace: &str) -> Result<(), DriverError> {
        if self.config.workspace_mode != WorkspaceMode::Operator {
            return Ok(());
        }
        self.allowlist.snapshot().decide(namespace, &self.config)
    }
}
