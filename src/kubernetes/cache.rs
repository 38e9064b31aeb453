//! The shared, watch-fed cache and the fan-out of its changes to every gateway stream.
//! One Kubernetes watch per resource, however many WatchSandboxes streams are open.

use std::collections::HashSet;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use kube::runtime::watcher;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::kubernetes::index::{SandboxIndex, deleted_event, sandbox_event};
use crate::kubernetes::status::SandboxView;
use crate::metrics::DriverMetrics;
use crate::proto::WatchSandboxesEvent;
use crate::proto::watch_sandboxes_event::Payload;
use crate::provisioner::WatchStream;

/// Room for bursts; a stream that falls further behind is resynced from the index.
const FANOUT_CAPACITY: usize = 1024;
const STREAM_BUFFER: usize = 256;

pub struct SandboxCache {
    index: RwLock<SandboxIndex>,
    events: broadcast::Sender<WatchSandboxesEvent>,
    /// Bumped after every applied change; waiters (Stop, sync) watch it.
    generation: watch::Sender<u64>,
    metrics: Arc<dyn DriverMetrics>,
}

impl SandboxCache {
    pub fn new(metrics: Arc<dyn DriverMetrics>) -> Arc<Self> {
        Self::with_unschedulable_timeout(metrics, crate::kubernetes::index::DEFAULT_UNSCHEDULABLE_TIMEOUT)
    }

    pub fn with_unschedulable_timeout(metrics: Arc<dyn DriverMetrics>, unschedulable_timeout: Duration) -> Arc<Self> {
        let (events, _) = broadcast::channel(FANOUT_CAPACITY);
        let (generation, _) = watch::channel(0);
        Arc::new(Self {
            index: RwLock::new(SandboxIndex::new(unschedulable_timeout)),
            events,
            generation,
            metrics,
        })
    }

    fn read_index(&self) -> RwLockReadGuard<'_, SandboxIndex> {
        // A panic while holding the lock cannot leave the index half-updated in a way that
        // matters more than stopping every read, so a poisoned lock is still read.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn read<R>(&self, f: impl FnOnce(&SandboxIndex) -> R) -> R {
        f(&self.read_index())
    }

    /// Applies one watcher event and publishes what it changed, under the write lock so that
    /// a stream subscribing concurrently sees each change exactly once.
    pub fn apply(&self, event: watcher::Event<DynamicObject>) {
        self.change(|index| index.apply(event));
    }

    /// Applies one Pod watcher event (pod failures laid over the snapshots).
    pub fn apply_pod(&self, event: watcher::Event<Pod>) {
        self.change(|index| index.apply_pod(event, Timestamp::now()));
    }

    /// Re-evaluates pod-failure graces; called periodically.
    pub fn tick(&self) {
        self.change(|index| index.tick(Timestamp::now()));
    }

    fn change(&self, f: impl FnOnce(&mut SandboxIndex) -> Vec<WatchSandboxesEvent>) {
        let mut index = self.index.write().unwrap_or_else(|e| e.into_inner());
        for event in f(&mut index) {
            let _ = self.events.send(event);
        }
        self.metrics.active_sandboxes(&index.phase_counts());
        drop(index);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn publish_platform_event(&self, event: &KubeEvent) {
        let index = self.read_index();
        if let Some(out) = index.platform_event(event) {
            let _ = self.events.send(out);
        }
    }

    /// Publishes an event a platform enricher observed about a sandbox this cache knows.
    pub fn publish_for(&self, sandbox_id: &str, event: crate::proto::DriverPlatformEvent) {
        let index = self.read_index();
        if let Some(out) = index.platform_event_for(sandbox_id, event) {
            let _ = self.events.send(out);
        }
    }

    /// Wakes on every applied change (the value is a generation counter).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Waits until `done` holds for the index, or `timeout` passes (returns false).
    pub async fn wait_until(&self, timeout: Duration, done: impl Fn(&SandboxIndex) -> bool) -> bool {
        let mut changes = self.generation.subscribe();
        let wait = async {
            loop {
                if self.read(&done) {
                    return true;
                }
                if changes.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// A gateway stream: the current state first, then every change until shutdown.
    pub fn stream(self: &Arc<Self>, mut shutdown: watch::Receiver<bool>) -> WatchStream {
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        // The replay holds the views (shared), not events: each event is made as it is sent,
        // so a hundred new streams do not hold a hundred copies of every snapshot at once.
        let (replay, mut changes) = {
            let index = self.read_index();
            (index.all(), self.events.subscribe())
        };
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let mut sent = HashSet::new();
            if forward_views(&tx, &mut sent, Vec::new(), replay).await.is_err() {
                return;
            }
            loop {
                if *shutdown.borrow() {
                    return;
                }
                let next = tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tx.closed() => return,
                    next = changes.recv() => next,
                };
                let forwarded = match next {
                    Ok(event) => forward(&tx, &mut sent, vec![event]).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "watch stream fell behind; resyncing it from the cache");
                        let (gone, views) = cache.resync(&sent);
                        forward_views(&tx, &mut sent, gone, views).await
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if forwarded.is_err() {
                    return;
                }
            }
        });
        ReceiverStream::new(rx).boxed()
    }

    /// What a lagging stream needs to be correct again: deletions of ids it saw that are
    /// gone, then the full current state.
    fn resync(&self, sent: &HashSet<String>) -> (Vec<String>, Vec<Arc<SandboxView>>) {
        let index = self.read_index();
        let mut gone: Vec<_> = sent.iter().filter(|id| index.get(id).is_none()).cloned().collect();
        gone.sort();
        (gone, index.all())
    }
}

/// Deletions of `gone`, then a snapshot of each view, each event made as it is sent.
async fn forward_views(
    tx: &mpsc::Sender<WatchSandboxesEvent>,
    sent: &mut HashSet<String>,
    gone: Vec<String>,
    views: Vec<Arc<SandboxView>>,
) -> Result<(), ()> {
    for id in gone {
        forward(tx, sent, vec![deleted_event(&id)]).await?;
    }
    for view in views {
        forward(tx, sent, vec![sandbox_event(view.snapshot.clone())]).await?;
    }
    Ok(())
}

async fn forward(
    tx: &mpsc::Sender<WatchSandboxesEvent>,
    sent: &mut HashSet<String>,
    events: Vec<WatchSandboxesEvent>,
) -> Result<(), ()> {
    for event in events {
        match &event.payload {
            Some(Payload::Sandbox(s)) => {
                if let Some(sb) = &s.sandbox {
                    sent.insert(sb.id.clone());
                }
            }
            Some(Payload::Deleted(d)) => {
                sent.remove(&d.sandbox_id);
            }
            _ => {}
        }
        tx.send(event).await.map_err(|_| ())?;
    }
    Ok(())
}
