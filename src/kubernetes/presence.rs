//! Whether one named object exists, kept by a watch of just that object (a `metadata.name`
//! field selector, which RBAC authorizes against `resourceNames`). A create that would GET the
//! object to find it there asks this instead: one API request fewer per create.

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::kubernetes::watch_backoff::watch_backoff;

/// How often a watch the API server refused (403) is tried again.
const FORBIDDEN_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// What the watch knows: nothing yet (`Unknown`: before the first list, after a refusal or
/// while it relists), or whether the object is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Unknown,
    Present,
    Absent,
}

#[derive(Clone)]
pub struct PresenceWatch {
    state: watch::Receiver<Presence>,
}

impl PresenceWatch {
    /// Starts watching `name` in `api` until `shutdown`. `what` names it in logs.
    pub fn start<K>(api: Api<K>, name: &str, what: &'static str, shutdown: watch::Receiver<bool>) -> Self
    where
        K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    {
        let (tx, rx) = watch::channel(Presence::Unknown);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        tokio::spawn(follow_presence(watcher(api, config), tx, what, shutdown));
        Self { state: rx }
    }

    /// A watch that never learns anything (for tests and offline use): every caller asks the
    /// API server.
    pub fn unknown() -> Self {
        Self {
            state: watch::channel(Presence::Unknown).1,
        }
    }

    pub fn now(&self) -> Presence {
        *self.state.borrow()
    }
}

/// The presence after `event`, given the presence before it and what the current list has
/// found so far (`listed`).
pub fn next_presence<K>(event: &watcher::Event<K>, before: Presence, listed: &mut bool) -> Presence {
    match event {
        watcher::Event::Init => {
            *listed = false;
            before
        }
        watcher::Event::InitApply(_) => {
            *listed = true;
            before
        }
        watcher::Event::InitDone if *listed => Presence::Present,
        watcher::Event::InitDone => Presence::Absent,
        watcher::Event::Apply(_) => Presence::Present,
        watcher::Event::Delete(_) => Presence::Absent,
    }
}

async fn follow_presence<K>(
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    tx: watch::Sender<Presence>,
    what: &'static str,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut stream = std::pin::pin!(stream.backoff(watch_backoff()));
    let (mut listed, mut refused) = (false, false);
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = shutdown.changed() => return,
        };
        match next {
            Some(Ok(event)) => {
                refused = false;
                let before = *tx.borrow();
                tx.send_replace(next_presence(&event, before, &mut listed));
            }
            Some(Err(e)) if forbidden(&e) => {
                // Older RBAC grants only `get`: creates ask the API server, and the watch tries
                // again now and then in case the grant is fixed, without a warning each time.
                if !refused {
                    tracing::info!(error = %e, "{what}: no list/watch permission; each create looks it up instead");
                    refused = true;
                }
                tx.send_replace(Presence::Unknown);
                tokio::select! {
                    _ = tokio::time::sleep(FORBIDDEN_RETRY) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "{what} watch failed; retrying with backoff");
                tx.send_replace(Presence::Unknown);
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
