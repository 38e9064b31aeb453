//! The driver's view of its Sandboxes, fed by a Kubernetes watch and keyed by the gateway's id.
//!
//! Pure state: [`SandboxIndex::apply`] takes one watcher event and returns the gateway events it
//! causes, so relists, deletions and replays are tested without a cluster.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::DynamicObject;
use kube::runtime::watcher;

use crate::kubernetes::status::{SandboxView, sandbox_view};
use crate::proto::{
    DriverPlatformEvent, DriverSandbox, WatchSandboxesDeletedEvent, WatchSandboxesEvent, WatchSandboxesPlatformEvent,
    WatchSandboxesSandboxEvent, watch_sandboxes_event::Payload,
};

const PHASES: [&str; 5] = ["provisioning", "ready", "stopped", "error", "deleting"];

#[derive(Debug, Default)]
pub struct SandboxIndex {
    by_id: HashMap<String, Arc<SandboxView>>,
    /// (namespace, Sandbox or Pod name) -> id, to attribute Kubernetes Events.
    by_object: HashMap<(String, String), String>,
    /// Objects of a relist in progress; swapped in at InitDone.
    relist: Option<HashMap<String, Arc<SandboxView>>>,
    synced: bool,
    /// Sandboxes by phase, kept up to date on every change (not recounted per event).
    phases: HashMap<&'static str, i64>,
}

pub fn sandbox_event(snapshot: DriverSandbox) -> WatchSandboxesEvent {
    WatchSandboxesEvent {
        payload: Some(Payload::Sandbox(WatchSandboxesSandboxEvent {
            sandbox: Some(snapshot),
        })),
    }
}

pub fn deleted_event(id: &str) -> WatchSandboxesEvent {
    WatchSandboxesEvent {
        payload: Some(Payload::Deleted(WatchSandboxesDeletedEvent {
            sandbox_id: id.to_string(),
        })),
    }
}

/// A bounded name for each payload kind, for metrics and logs.
pub fn event_kind(event: &WatchSandboxesEvent) -> &'static str {
    match event.payload {
        Some(Payload::Sandbox(_)) => "sandbox",
        Some(Payload::Deleted(_)) => "deleted",
        Some(Payload::PlatformEvent(_)) => "platform_event",
        None => "empty",
    }
}

impl SandboxIndex {
    /// True once the first full list has been applied.
    pub fn synced(&self) -> bool {
        self.synced
    }

    pub fn get(&self, id: &str) -> Option<Arc<SandboxView>> {
        self.by_id.get(id).cloned()
    }

    /// All sandboxes, ordered by id so that lists are stable.
    pub fn all(&self) -> Vec<Arc<SandboxView>> {
        let mut all: Vec<_> = self.by_id.values().cloned().collect();
        all.sort_by(|a, b| a.id().cmp(b.id()));
        all
    }

    /// The current state as `sandbox` events, for a new watch stream.
    pub fn replay(&self) -> Vec<WatchSandboxesEvent> {
        self.all()
            .into_iter()
            .map(|v| sandbox_event(v.snapshot.clone()))
            .collect()
    }

    pub fn phase_counts(&self) -> Vec<(&'static str, i64)> {
        PHASES
            .iter()
            .map(|p| (*p, self.phases.get(p).copied().unwrap_or(0)))
            .collect()
    }

    pub fn apply(&mut self, event: watcher::Event<DynamicObject>) -> Vec<WatchSandboxesEvent> {
        match event {
            watcher::Event::Apply(obj) => self.upsert(&obj).into_iter().collect(),
            watcher::Event::Delete(obj) => self.remove(&obj).into_iter().collect(),
            watcher::Event::Init => {
                self.relist = Some(HashMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                if let (Some(buffer), Some(view)) = (self.relist.as_mut(), sandbox_view(&obj)) {
                    buffer.insert(view.id().to_string(), Arc::new(view));
                }
                Vec::new()
            }
            watcher::Event::InitDone => self.finish_relist(),
        }
    }

    fn upsert(&mut self, obj: &DynamicObject) -> Option<WatchSandboxesEvent> {
        let view = Arc::new(sandbox_view(obj)?);
        let id = view.id().to_string();
        let changed = self
            .by_id
            .get(&id)
            .is_none_or(|old| old.snapshot != view.snapshot || old.endpoint != view.endpoint);
        self.insert(view.clone());
        changed.then(|| sandbox_event(view.snapshot.clone()))
    }

    fn remove(&mut self, obj: &DynamicObject) -> Option<WatchSandboxesEvent> {
        let view = sandbox_view(obj)?;
        // A Delete for an older object of the same id (recreated meanwhile) is not ours to drop.
        let current = self.by_id.get(view.id())?;
        if !view.uid.is_empty() && !current.uid.is_empty() && current.uid != view.uid {
            return None;
        }
        self.take(view.id())?;
        Some(deleted_event(view.id()))
    }

    /// A relist replaces the state: ids that vanished while the watch was down are reported
    /// deleted, new or changed ones as snapshots. Nothing that happened in the gap is lost.
    fn finish_relist(&mut self) -> Vec<WatchSandboxesEvent> {
        let Some(fresh) = self.relist.take() else {
            return Vec::new();
        };
        let mut events = Vec::new();
        let mut gone: Vec<String> = self
            .by_id
            .keys()
            .filter(|id| !fresh.contains_key(*id))
            .cloned()
            .collect();
        gone.sort();
        for id in gone {
            self.take(&id);
            events.push(deleted_event(&id));
        }
        let mut fresh: Vec<_> = fresh.into_values().collect();
        fresh.sort_by(|a, b| a.id().cmp(b.id()));
        for view in fresh {
            let changed = self
                .by_id
                .get(view.id())
                .is_none_or(|old| old.snapshot != view.snapshot || old.endpoint != view.endpoint);
            if changed {
                events.push(sandbox_event(view.snapshot.clone()));
            }
            self.insert(view);
        }
        self.synced = true;
        events
    }

    fn insert(&mut self, view: Arc<SandboxView>) {
        self.take(view.id());
        *self.phases.entry(view.phase()).or_default() += 1;
        let id = view.id().to_string();
        self.by_object
            .insert((view.namespace.clone(), view.object_name.clone()), id.clone());
        self.by_object
            .insert((view.namespace.clone(), view.endpoint.instance_id.clone()), id.clone());
        self.by_id.insert(id, view);
    }

    /// Removes `id` with everything derived from it.
    fn take(&mut self, id: &str) -> Option<Arc<SandboxView>> {
        let view = self.by_id.remove(id)?;
        self.forget_keys(&view);
        if let Some(count) = self.phases.get_mut(view.phase()) {
            *count -= 1;
        }
        Some(view)
    }

    fn forget_keys(&mut self, view: &SandboxView) {
        self.by_object
            .remove(&(view.namespace.clone(), view.object_name.clone()));
        self.by_object
            .remove(&(view.namespace.clone(), view.endpoint.instance_id.clone()));
    }

    /// Wraps an event about sandbox `id`, if it is one of ours.
    pub fn platform_event_for(&self, id: &str, event: DriverPlatformEvent) -> Option<WatchSandboxesEvent> {
        self.get(id)?;
        Some(WatchSandboxesEvent {
            payload: Some(Payload::PlatformEvent(WatchSandboxesPlatformEvent {
                sandbox_id: id.to_string(),
                event: Some(event),
            })),
        })
    }

    /// Turns a Kubernetes Event about one of our Sandboxes or their Pods into a platform event.
    pub fn platform_event(&self, event: &KubeEvent) -> Option<WatchSandboxesEvent> {
        let involved = &event.involved_object;
        let kind = involved.kind.as_deref()?;
        if kind != "Sandbox" && kind != "Pod" {
            return None;
        }
        let key = (
            involved
                .namespace
                .clone()
                .or_else(|| event.metadata.namespace.clone())?,
            involved.name.clone()?,
        );
        let id = self.by_object.get(&key)?;
        Some(WatchSandboxesEvent {
            payload: Some(Payload::PlatformEvent(WatchSandboxesPlatformEvent {
                sandbox_id: id.clone(),
                event: Some(platform_event_of(event)),
            })),
        })
    }
}

const STEP_REQUESTING: &str = "requesting_sandbox";
const STEP_PULLING: &str = "pulling_image";
const STEP_STARTING: &str = "starting_sandbox";

/// The event itself plus the progress markers the gateway's CLI follows.
fn platform_event_of(event: &KubeEvent) -> DriverPlatformEvent {
    let reason = event.reason.clone().unwrap_or_default();
    let message = event.message.clone().unwrap_or_default();
    let mut metadata = HashMap::new();
    let mut mark = |complete: Option<(&str, &str)>, active: Option<(&str, &str)>| {
        if let Some((step, label)) = complete {
            metadata.insert("openshell.progress.complete_step".to_string(), step.to_string());
            metadata.insert("openshell.progress.complete_label".to_string(), label.to_string());
        }
        if let Some((step, detail)) = active {
            metadata.insert("openshell.progress.active_step".to_string(), step.to_string());
            metadata.insert("openshell.progress.active_detail".to_string(), detail.to_string());
        }
    };
    match reason.as_str() {
        "Scheduled" => mark(
            Some((STEP_REQUESTING, "Sandbox scheduled")),
            Some((STEP_PULLING, &message)),
        ),
        "Pulling" => mark(None, Some((STEP_PULLING, &message))),
        "Pulled" => mark(Some((STEP_PULLING, "Image pulled")), Some((STEP_STARTING, &message))),
        "Created" => mark(None, Some((STEP_STARTING, &message))),
        "Started" => mark(Some((STEP_STARTING, "Container started")), None),
        _ => {}
    }
    let when = event
        .event_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0));
    DriverPlatformEvent {
        timestamp_ms: when.map_or(0, |t| t.as_millisecond()),
        source: event
            .reporting_component
            .clone()
            .filter(|c| !c.is_empty())
            .or_else(|| event.source.as_ref().and_then(|s| s.component.clone()))
            .unwrap_or_default(),
        r#type: event.type_.clone().unwrap_or_default(),
        reason,
        message,
        metadata,
    }
}
