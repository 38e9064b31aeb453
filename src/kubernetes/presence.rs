//! One named object as a watch of just that object keeps it (a `metadata.name` field selector,
//! which RBAC authorizes against `resourceNames`). A create that would GET the object (the
//! sandbox ServiceAccount, the client TLS Secret) reads it here instead: one API request fewer
//! per create, and per ValidateSandboxCreate.

use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::kubernetes::watch_backoff::watch_backoff;

/// How often a watch the API server refused (403) is tried again.
const FORBIDDEN_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// What the watch knows: nothing yet (`Unknown`: before the first list, after a refusal or
/// while it relists), the object, or that it is not there.
#[derive(Debug)]
pub enum Known<K> {
    Unknown,
    Present(Arc<K>),
    Absent,
}

impl<K> Clone for Known<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Unknown => Self::Unknown,
            Self::Present(k) => Self::Present(Arc::clone(k)),
            Self::Absent => Self::Absent,
        }
    }
}

pub struct NamedWatch<K> {
    state: watch::Receiver<Known<K>>,
}

impl<K> Clone for NamedWatch<K> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
        }
    }
}

impl<K> NamedWatch<K>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    /// Starts watching `name` in `api` until `shutdown`. `what` names it in logs.
    pub fn start(api: Api<K>, name: &str, what: &'static str, shutdown: watch::Receiver<bool>) -> Self {
        let (tx, rx) = watch::channel(Known::Unknown);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        tokio::spawn(follow_named(watcher(api, config), tx, what, shutdown));
        Self { state: rx }
    }
}

impl<K> NamedWatch<K> {
    /// A watch that never learns anything (a mode without the object): callers ask the API
    /// server.
    pub fn unknown() -> Self {
        Self {
            state: watch::channel(Known::Unknown).1,
        }
    }

    pub fn now(&self) -> Known<K> {
        self.state.borrow().clone()
    }

    /// The object, when the watch has it. Its "absent" may be a moment old, so callers that
    /// must not refuse on a stale answer look the object up on anything but this.
    pub fn present(&self) -> Option<Arc<K>> {
        match self.now() {
            Known::Present(k) => Some(k),
            Known::Unknown | Known::Absent => None,
        }
    }
}

/// What the watch knows after `event`, given what it knew before and what the current list has
/// found so far (`listed`).
pub fn next_known<K>(event: watcher::Event<K>, before: &Known<K>, listed: &mut Option<Arc<K>>) -> Known<K> {
    match event {
        watcher::Event::Init => {
            *listed = None;
            before.clone()
        }
        watcher::Event::InitApply(k) => {
            *listed = Some(Arc::new(k));
            before.clone()
        }
        watcher::Event::InitDone => listed.take().map_or(Known::Absent, Known::Present),
        watcher::Event::Apply(k) => Known::Present(Arc::new(k)),
        watcher::Event::Delete(_) => Known::Absent,
    }
}

async fn follow_named<K>(
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    tx: watch::Sender<Known<K>>,
    what: &'static str,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut stream = std::pin::pin!(stream.backoff(watch_backoff()));
    let (mut listed, mut refused) = (None, false);
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = shutdown.changed() => return,
        };
        match next {
            Some(Ok(event)) => {
                refused = false;
                let known = next_known(event, &tx.borrow(), &mut listed);
                tx.send_replace(known);
            }
            Some(Err(e)) if forbidden(&e) => {
                // Older RBAC grants only `get`: creates ask the API server, and the watch tries
                // again now and then in case the grant is fixed, without a warning each time.
                if !refused {
                    tracing::info!(error = %e, "{what}: no list/watch permission; each create looks it up instead");
                    refused = true;
                }
                tx.send_replace(Known::Unknown);
                tokio::select! {
                    _ = tokio::time::sleep(FORBIDDEN_RETRY) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "{what} watch failed; retrying with backoff");
                tx.send_replace(Known::Unknown);
            }
            None => return,
        }
    }
}

fn forbidden(e: &watcher::Error) -> bool {
    let api = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s,
        _ => return false,
    };
    api.code == 403
}

#[cfg(test)]
#[path = "presence_tests.rs"]
mod tests;
