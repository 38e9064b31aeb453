//! The driver's view of its Sandboxes, fed by a Kubernetes watch and keyed by the gateway's id.
//!
//! Pure state: [`SandboxIndex::apply`] takes one watcher event and returns the gateway events it
//! causes, so relists, deletions and replays are tested without a cluster.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::watcher;

use crate::kubernetes::identity::LABEL_SANDBOX_ID;
use crate::kubernetes::platform_event::platform_event_of;
use crate::kubernetes::pod_status::{PodFailure, pod_failure, ready_overlay, refused_pod};
use crate::kubernetes::status::{SandboxView, sandbox_view};
use crate::proto::{
    DriverPlatformEvent, DriverSandbox, WatchSandboxesDeletedEvent, WatchSandboxesEvent, WatchSandboxesPlatformEvent,
    WatchSandboxesSandboxEvent, watch_sandboxes_event::Payload,
};

const PHASES: [&str; 5] = ["provisioning", "ready", "stopped", "error", "deleting"];

/// Source of the platform events the driver itself raises (pod failures).
pub const DRIVER_EVENT_SOURCE: &str = "openshell-driver";

/// The unschedulable timeout of an index built without configuration (the flag's default).
pub const DEFAULT_UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the Pod watch says about one sandbox's pod.
#[derive(Debug, Clone)]
struct PodState {
    uid: String,
    failure: Option<PodFailure>,
    /// When the driver first saw the current failure (same reason and container).
    first_seen: Timestamp,
}

#[derive(Debug)]
pub struct SandboxIndex {
    /// Served views: the Sandbox's, with its pod's failure laid over the `Ready` condition.
    by_id: HashMap<String, Arc<SandboxView>>,
    /// Pods by sandbox id.
    pods: HashMap<String, PodState>,
    /// Sandbox ids seen in a Pod relist in progress.
    pod_relist: Option<HashSet<String>>,
    /// (pod uid, failure key) already announced as a platform event, by sandbox id.
    announced: HashMap<String, HashSet<(String, String)>>,
    unschedulable_timeout: Duration,
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

impl Default for SandboxIndex {
    fn default() -> Self {
        Self::new(DEFAULT_UNSCHEDULABLE_TIMEOUT)
    }
}

impl SandboxIndex {
    pub fn new(unschedulable_timeout: Duration) -> Self {
        Self {
            by_id: HashMap::new(),
            pods: HashMap::new(),
            pod_relist: None,
            announced: HashMap::new(),
            unschedulable_timeout,
            by_object: HashMap::new(),
            relist: None,
            synced: false,
            phases: HashMap::new(),
        }
    }

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
        self.apply_at(event, Timestamp::now())
    }

    /// [`Self::apply`] at a given time (the pod-failure graces depend on it).
    pub fn apply_at(&mut self, event: watcher::Event<DynamicObject>, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        match event {
            watcher::Event::Apply(obj) => self.upsert(&obj, now),
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
            watcher::Event::InitDone => self.finish_relist(now),
        }
    }

    fn upsert(&mut self, obj: &DynamicObject, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        let Some(view) = sandbox_view(obj) else {
            return Vec::new();
        };
        self.note_refused_pod(&view, now);
        let view = Arc::new(self.composed(view, now));
        let id = view.id().to_string();
        let changed = self
            .by_id
            .get(&id)
            .is_none_or(|old| old.snapshot != view.snapshot || old.endpoint != view.endpoint);
        self.insert(view.clone());
        let mut out: Vec<_> = changed
            .then(|| sandbox_event(view.snapshot.clone()))
            .into_iter()
            .collect();
        out.extend(self.announce(&id, now));
        out
    }

    /// Until a pod exists, the API server's refusal to create it stands in for its failure (a
    /// pod state without uid, which the Pod watch replaces once a pod appears).
    fn note_refused_pod(&mut self, view: &SandboxView, now: Timestamp) {
        let id = view.id();
        if self.pods.get(id).is_some_and(|p| !p.uid.is_empty()) {
            return;
        }
        let Some(failure) = refused_pod(&view.controller_conditions) else {
            self.pods.remove(id);
            return;
        };
        let first_seen = match self.pods.get(id) {
            Some(old) if old.failure.as_ref().is_some_and(|f| same_failure(f, &failure)) => old.first_seen,
            _ => now,
        };
        let state = PodState {
            uid: String::new(),
            failure: Some(failure),
            first_seen,
        };
        self.pods.insert(id.to_string(), state);
    }

    /// The controller's view with the pod's failure (if any) laid over its `Ready` condition.
    fn composed(&self, mut view: SandboxView, now: Timestamp) -> SandboxView {
        let pod = self.pods.get(view.id());
        let (conditions, _) = ready_overlay(
            &view.controller_conditions,
            pod.and_then(|p| p.failure.as_ref()),
            pod.map_or(now, |p| p.first_seen),
            now,
            self.unschedulable_timeout,
        );
        if let Some(status) = view.snapshot.status.as_mut() {
            status.conditions = conditions;
        }
        view
    }

    /// A platform event for the pod's failure, the first time this pod shows it.
    fn announce(&mut self, id: &str, now: Timestamp) -> Option<WatchSandboxesEvent> {
        let view = self.by_id.get(id)?;
        let pod = self.pods.get(id)?;
        let failure = pod.failure.as_ref()?;
        let conditions = &view.controller_conditions;
        if view.suspended || conditions.iter().any(|c| c.r#type == "Ready" && c.status == "True") {
            return None;
        }
        let key = (pod.uid.clone(), failure.key());
        if !self.announced.entry(id.to_string()).or_default().insert(key) {
            return None;
        }
        self.platform_event_for(
            id,
            DriverPlatformEvent {
                timestamp_ms: now.as_millisecond(),
                source: DRIVER_EVENT_SOURCE.into(),
                r#type: "Warning".into(),
                reason: failure.reason.clone(),
                message: failure.detail(),
                metadata: HashMap::new(),
            },
        )
    }

    /// Recomputes the served view of `id` (pod changed, or time passed).
    fn refresh(&mut self, id: &str, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        let Some(old) = self.by_id.get(id).cloned() else {
            return Vec::new();
        };
        let view = Arc::new(self.composed((*old).clone(), now));
        let mut out = Vec::new();
        if view.snapshot != old.snapshot {
            self.insert(view.clone());
            out.push(sandbox_event(view.snapshot.clone()));
        }
        out.extend(self.announce(id, now));
        out
    }

    /// Applies one Pod watcher event: the pod's failure, and what it changes for the gateway.
    pub fn apply_pod(&mut self, event: watcher::Event<Pod>, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        match event {
            watcher::Event::Apply(pod) => self.upsert_pod(&pod, now),
            watcher::Event::InitApply(pod) => {
                let id = pod_sandbox_id(&pod);
                if let (Some(seen), Some(id)) = (self.pod_relist.as_mut(), id) {
                    seen.insert(id);
                }
                self.upsert_pod(&pod, now)
            }
            watcher::Event::Delete(pod) => {
                let Some(id) = pod_sandbox_id(&pod) else {
                    return Vec::new();
                };
                let uid = pod.uid().unwrap_or_default();
                if self.pods.get(&id).is_some_and(|p| uid.is_empty() || p.uid == uid) {
                    self.pods.remove(&id);
                }
                self.refresh(&id, now)
            }
            watcher::Event::Init => {
                self.pod_relist = Some(HashSet::new());
                Vec::new()
            }
            watcher::Event::InitDone => {
                let Some(seen) = self.pod_relist.take() else {
                    return Vec::new();
                };
                // A refused pod (no uid) was never in a Pod list.
                let mut gone: Vec<String> = (self.pods.iter())
                    .filter(|(id, p)| !p.uid.is_empty() && !seen.contains(*id))
                    .map(|(id, _)| id.clone())
                    .collect();
                gone.sort();
                let mut out = Vec::new();
                for id in gone {
                    self.pods.remove(&id);
                    out.extend(self.refresh(&id, now));
                }
                out
            }
        }
    }

    fn upsert_pod(&mut self, pod: &Pod, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        let Some(id) = pod_sandbox_id(pod) else {
            return Vec::new();
        };
        let uid = pod.uid().unwrap_or_default();
        let failure = pod_failure(pod);
        let first_seen = match (self.pods.get(&id), &failure) {
            (Some(old), Some(new)) if old.uid == uid && old.failure.as_ref().is_some_and(|f| same_failure(f, new)) => {
                old.first_seen
            }
            _ => now,
        };
        self.pods.insert(
            id.clone(),
            PodState {
                uid,
                failure,
                first_seen,
            },
        );
        self.refresh(&id, now)
    }

    /// Re-evaluates the graces of failing pods: a failure whose time is up becomes terminal
    /// without waiting for a new Kubernetes event.
    pub fn tick(&mut self, now: Timestamp) -> Vec<WatchSandboxesEvent> {
        let mut failing: Vec<String> = self
            .pods
            .iter()
            .filter(|(_, p)| p.failure.is_some())
            .map(|(id, _)| id.clone())
            .collect();
        failing.sort();
        failing.into_iter().flat_map(|id| self.refresh(&id, now)).collect()
    }

    fn remove(&mut self, obj: &DynamicObject) -> Option<WatchSandboxesEvent> {
        let view = sandbox_view(obj)?;
        // A Delete for an older object of the same id (recreated meanwhile) is not ours to drop.
        let current = self.by_id.get(view.id())?;
        if !view.uid.is_empty() && !current.uid.is_empty() && current.uid != view.uid {
            return None;
        }
        self.take(view.id())?;
        self.announced.remove(view.id());
        if self.pods.get(view.id()).is_some_and(|p| p.uid.is_empty()) {
            self.pods.remove(view.id());
        }
        Some(deleted_event(view.id()))
    }

    /// A relist replaces the state: ids that vanished while the watch was down are reported
    /// deleted, new or changed ones as snapshots. Nothing that happened in the gap is lost.
    fn finish_relist(&mut self, now: Timestamp) -> Vec<WatchSandboxesEvent> {
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
            self.announced.remove(&id);
            events.push(deleted_event(&id));
        }
        let mut fresh: Vec<_> = fresh.into_values().collect();
        fresh.sort_by(|a, b| a.id().cmp(b.id()));
        for view in fresh {
            let view = Arc::new(self.composed((*view).clone(), now));
            let changed = self
                .by_id
                .get(view.id())
                .is_none_or(|old| old.snapshot != view.snapshot || old.endpoint != view.endpoint);
            if changed {
                events.push(sandbox_event(view.snapshot.clone()));
            }
            let id = view.id().to_string();
            self.insert(view);
            events.extend(self.announce(&id, now));
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
            involved.namespace.clone().or_else(|| event.namespace())?,
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

fn pod_sandbox_id(pod: &Pod) -> Option<String> {
    pod.labels().get(LABEL_SANDBOX_ID).cloned()
}

/// The same failure, for its grace: the image-pull reasons alternate, and count as one.
fn same_failure(a: &PodFailure, b: &PodFailure) -> bool {
    let pull = |r: &str| matches!(r, "ErrImagePull" | "ImagePullBackOff");
    a.container == b.container && (a.reason == b.reason || (pull(&a.reason) && pull(&b.reason)))
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
