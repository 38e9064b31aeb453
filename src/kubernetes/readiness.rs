//! The provisioner's readiness as a value that is pushed on every change, so that health
//! reporting (grpc.health.v1) follows it at once instead of polling.

use std::sync::Arc;

use tokio::sync::watch;

use crate::kubernetes::cache::SandboxCache;
use crate::provisioner::Readiness;

/// The backend's state, held back until the cache has its first full list.
pub fn combined(backend: &Readiness, synced: bool) -> Readiness {
    if *backend == Readiness::Ready && !synced {
        return Readiness::Unavailable("the sandbox cache has not synced yet".into());
    }
    backend.clone()
}

/// Keeps `out` equal to [`combined`] of the backend and the cache until shutdown. Receivers
/// are woken only when the value changes, not on every cache change.
pub async fn publish(
    mut backend: watch::Receiver<Readiness>,
    cache: Arc<SandboxCache>,
    out: watch::Sender<Readiness>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = cache.changes();
    loop {
        let now = combined(&backend.borrow_and_update(), cache.read(|i| i.synced()));
        out.send_if_modified(|current| {
            let changed = *current != now;
            *current = now;
            changed
        });
        tokio::select! {
            r = backend.changed() => if r.is_err() { return },
            r = changes.changed() => if r.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::NoopMetrics;
    use kube::runtime::watcher::Event;

    #[test]
    fn readiness_waits_for_the_first_full_list() {
        let down = Readiness::Unavailable("down".into());
        let missing = Readiness::Misconfigured("no CRD".into());
        let cases = [
            (Readiness::Ready, true, Readiness::Ready),
            (
                Readiness::Ready,
                false,
                Readiness::Unavailable("the sandbox cache has not synced yet".into()),
            ),
            (down.clone(), true, down.clone()),
            (missing.clone(), false, missing),
        ];
        for (backend, synced, want) in cases {
            assert_eq!(combined(&backend, synced), want, "{backend:?} synced={synced}");
        }
    }

    #[tokio::test]
    async fn a_change_is_pushed_without_waiting_for_time_to_pass() {
        tokio::time::pause();
        let cache = SandboxCache::new(Arc::new(NoopMetrics));
        let (backend, backend_rx) = watch::channel(Readiness::Unavailable("connecting".into()));
        let (out, mut updates) = watch::channel(Readiness::Unavailable("starting".into()));
        let (_stop, shutdown) = watch::channel(false);
        tokio::spawn(publish(backend_rx, Arc::clone(&cache), out, shutdown));
        let first = updates
            .wait_for(|r| *r == Readiness::Unavailable("connecting".into()))
            .await;
        assert!(first.is_ok());
        drop(first);
        backend.send_replace(Readiness::Ready);
        cache.apply(Event::Init);
        cache.apply(Event::InitDone);
        let before = tokio::time::Instant::now();
        let ready = updates.wait_for(|r| *r == Readiness::Ready).await.map(|r| r.clone());
        assert_eq!(ready.ok(), Some(Readiness::Ready));
        // With paused time, a poll would have had to sleep (and so advance the clock).
        assert_eq!(
            tokio::time::Instant::now(),
            before,
            "readiness came by a timer, not a push"
        );
    }
}
