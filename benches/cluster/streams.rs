//! WatchSandboxes streams as a gateway holds them, and a reference watch straight on the API
//! server: what arrives where, and when.

use std::collections::HashSet;
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use openshell_driver_openshift::kubernetes::identity::LABEL_SANDBOX_NAME;
use openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient;
use openshell_driver_openshift::proto::watch_sandboxes_event::Payload;
use openshell_driver_openshift::proto::*;
use tokio::sync::{mpsc, oneshot};
use tonic::transport::Channel;

/// One thing a stream received after its replay.
#[derive(Clone, Debug)]
pub enum Seen {
    /// A sandbox snapshot: its id and (the benchmark's marker) its name.
    Snapshot {
        id: String,
        name: String,
    },
    Deleted {
        id: String,
    },
    Other,
}

#[derive(Debug)]
pub struct Arrival {
    pub stream: usize,
    pub seen: Seen,
    pub at: Instant,
}

fn seen_of(event: &WatchSandboxesEvent) -> Seen {
    match &event.payload {
        Some(Payload::Sandbox(s)) => s.sandbox.as_ref().map_or(Seen::Other, |sb| Seen::Snapshot {
            id: sb.id.clone(),
            name: sb.name.clone(),
        }),
        Some(Payload::Deleted(d)) => Seen::Deleted {
            id: d.sandbox_id.clone(),
        },
        _ => Seen::Other,
    }
}

/// Opens stream number `index`; it reads its replay until `expected` distinct sandboxes were
/// shown (then `replayed` fires) and forwards everything after that to `out`.
pub async fn open(
    client: &mut ComputeDriverClient<Channel>,
    index: usize,
    expected: usize,
    out: mpsc::UnboundedSender<Arrival>,
) -> oneshot::Receiver<()> {
    let mut stream = client
        .watch_sandboxes(WatchSandboxesRequest {})
        .await
        .expect("watch opens")
        .into_inner();
    let (replayed, done) = oneshot::channel();
    tokio::spawn(async move {
        let mut replay = HashSet::new();
        let mut replayed = Some(replayed);
        if expected == 0
            && let Some(r) = replayed.take()
        {
            let _ = r.send(());
        }
        while let Some(Ok(event)) = stream.next().await {
            let seen = seen_of(&event);
            if let Some(r) = replayed.take() {
                if let Seen::Snapshot { id, .. } = &seen {
                    replay.insert(id.clone());
                }
                if replay.len() < expected {
                    replayed = Some(r);
                } else {
                    let _ = r.send(());
                }
                continue;
            }
            let arrival = Arrival {
                stream: index,
                seen,
                at: Instant::now(),
            };
            if out.send(arrival).is_err() {
                return;
            }
        }
    });
    done
}

/// A watch of the same Sandboxes straight on the API server: when each name marker appeared.
pub fn reference_watch(api: Api<DynamicObject>, selector: &str) -> mpsc::UnboundedReceiver<(String, Instant)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let stream = watcher(api, watcher::Config::default().labels(selector));
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(obj)) = event {
                let name = obj
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_SANDBOX_NAME))
                    .cloned()
                    .unwrap_or_default();
                if tx.send((name, Instant::now())).is_err() {
                    return;
                }
            }
        }
    });
    rx
}
