//! Following a Kubernetes watch for as long as the driver runs.

use futures::StreamExt;
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
