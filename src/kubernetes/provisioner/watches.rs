//! The provisioner's watches: Sandboxes, their Pods and Events feed the cache until shutdown.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::runtime::watcher;

use super::{GRACE_TICK, KubeProvisioner};
use crate::kubernetes::event_watch::event_watch_configs;
use crate::kubernetes::render::SandboxApiVersion;
use crate::kubernetes::watch::{follow, follow_relisting};

impl KubeProvisioner {
    /// The one Sandbox watch; relists (410 Gone, restarts) and errors never end it. A watch that
    /// cannot start again (a lost API server) begins with a fresh list (`follow_relisting`).
    pub(super) async fn watch_sandboxes(self: Arc<Self>, version: SandboxApiVersion) {
        let config = watcher::Config::default().labels(&self.ownership().selector());
        let make = || watcher(self.sandboxes_in_scope(version), config.clone());
        follow_relisting(make, self.shutdown.clone(), "Sandbox", |event| {
            self.pool.observe(&event);
            self.cache.apply(event)
        })
        .await;
    }

    /// The Pods of our Sandboxes (same ownership labels): why a pod cannot start
    /// (docs/pod-failures.md).
    pub(super) async fn watch_pods(self: Arc<Self>) {
        let config = watcher::Config::default().labels(&self.ownership().selector());
        let make = || watcher(self.in_scope::<Pod>(), config.clone());
        follow_relisting(make, self.shutdown.clone(), "Pod", |event| self.cache.apply_pod(event)).await;
    }

    /// Ends pod-failure graces on time, without waiting for a Kubernetes event.
    pub(super) async fn tick_graces(self: Arc<Self>) {
        let mut interval = tokio::time::interval(GRACE_TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = interval.tick() => self.cache.tick(),
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Kubernetes Events of our Sandboxes and Pods become platform events. Events already
    /// there at start (the initial list) are history, not progress, and are skipped.
    pub(super) async fn watch_events(self: Arc<Self>) {
        let watches = event_watch_configs()
            .into_iter()
            .map(|config| watcher(self.in_scope::<KubeEvent>(), config).boxed());
        let stream = futures::stream::select_all(watches);
        follow(stream, self.shutdown.clone(), "Event", |event| {
            if let watcher::Event::Apply(event) = event {
                self.cache.publish_platform_event(&event);
            }
        })
        .await;
    }
}
