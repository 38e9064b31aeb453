//! Following a Kubernetes watch for as long as the driver runs.

use futures::StreamExt;
use kube::runtime::utils::Backoff as _;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::kubernetes::watch_backoff::watch_backoff;

/// Feeds a watch to `apply` until shutdown. Errors back off and resume, relists included: a
/// watch of the driver's never ends on its own.
pub async fn follow<K>(
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    mut shutdown: watch::Receiver<bool>,
    what: &str,
    mut apply: impl FnMut(watcher::Event<K>),
) {
    let mut stream = std::pin::pin!(stream.backoff(watch_backoff()));
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = shutdown.changed() => return,
        };
        match next {
            Some(Ok(event)) => apply(event),
            Some(Err(e)) => tracing::warn!(error = %e, "{what} watch failed; retrying with backoff"),
            None => return,
        }
    }
}

/// Like [`follow`], for a watch made by `make`: a watch that cannot be started again begins anew,
/// with a fresh list, instead of resuming from its last resourceVersion. That error means the
/// connection was lost (an API-server restart, most often), and a restarted API server answered a
/// resumed watch with 410 Gone only ~8 s later (bench-cluster), where a fresh list is served at
/// once. The cache diffs the relist, so streams still get only what changed.
pub async fn follow_relisting<K, S>(
    mut make: impl FnMut() -> S,
    mut shutdown: watch::Receiver<bool>,
    what: &str,
    mut apply: impl FnMut(watcher::Event<K>),
) where
    S: futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
{
    let mut delays = watch_backoff();
    loop {
        let mut stream = std::pin::pin!(make());
        let relist = loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = shutdown.changed() => return,
            };
            match next {
                Some(Ok(event)) => {
                    delays.reset();
                    apply(event);
                }
                Some(Err(e)) => {
                    let relist = matches!(e, watcher::Error::WatchStartFailed(_));
                    tracing::warn!(error = %e, relist, "{what} watch failed; retrying with backoff");
                    let delay = delays.next().unwrap_or(crate::kubernetes::watch_backoff::MAX_DELAY);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                    if relist {
                        break true;
                    }
                }
                None => break false,
            }
        };
        if !relist {
            return;
        }
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
