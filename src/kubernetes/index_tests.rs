//! Tier 1: the cache index — snapshots, deletions, relists and platform events.

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use serde_json::json;

use crate::kubernetes::identity::*;
use crate::kubernetes::index::*;
use crate::proto::WatchSandboxesEvent;
use crate::proto::watch_sandboxes_event::Payload;

fn sandbox(id: &str, uid: &str, ready: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "agents.x-k8s.io/v1beta1", "kind": "Sandbox",
        "metadata": {"name": format!("default--{id}"), "namespace": "ns", "uid": uid,
                     "labels": {LABEL_SANDBOX_ID: id, LABEL_SANDBOX_NAME: id, LABEL_WORKSPACE: "default"}},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "DependenciesNotReady"}]}
    }))
    .expect("object")
}

fn describe(events: &[WatchSandboxesEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.payload {
            Some(Payload::Sandbox(s)) => format!("sandbox:{}", s.sandbox.as_ref().map(|x| x.id.as_str()).unwrap_or("")),
            Some(Payload::Deleted(d)) => format!("deleted:{}", d.sandbox_id),
            Some(Payload::PlatformEvent(p)) => format!("event:{}", p.sandbox_id),
            None => "none".into(),
        })
        .collect()
}

fn synced(ids: &[&str]) -> SandboxIndex {
    let mut index = SandboxIndex::default();
    index.apply(Event::Init);
    for id in ids {
        index.apply(Event::InitApply(sandbox(id, &format!("uid-{id}"), "False")));
    }
    index.apply(Event::InitDone);
    index
}

#[test]
fn initial_list_syncs_and_replays() {
    let mut index = SandboxIndex::default();
    assert!(!index.synced());
    assert!(index.apply(Event::Init).is_empty());
    assert!(index.apply(Event::InitApply(sandbox("b", "u-b", "False"))).is_empty());
    assert!(index.apply(Event::InitApply(sandbox("a", "u-a", "False"))).is_empty());
    assert_eq!(describe(&index.apply(Event::InitDone)), ["sandbox:a", "sandbox:b"]);
    assert!(index.synced());
    assert_eq!(describe(&index.replay()), ["sandbox:a", "sandbox:b"]);
}

#[test]
fn changes_deletions_and_no_op_updates() {
    let mut index = synced(&["a"]);
    assert!(
        index.apply(Event::Apply(sandbox("a", "uid-a", "False"))).is_empty(),
        "unchanged: no event"
    );
    assert_eq!(
        describe(&index.apply(Event::Apply(sandbox("a", "uid-a", "True")))),
        ["sandbox:a"]
    );
    assert_eq!(index.get("a").expect("a").phase(), "ready");
    // A Delete for an older incarnation (another uid) must not drop the current one.
    assert!(index.apply(Event::Delete(sandbox("a", "uid-old", "True"))).is_empty());
    assert_eq!(
        describe(&index.apply(Event::Delete(sandbox("a", "uid-a", "True")))),
        ["deleted:a"]
    );
    assert!(index.get("a").is_none());
    assert!(
        index.apply(Event::Delete(sandbox("a", "uid-a", "True"))).is_empty(),
        "deleted once"
    );
}

#[test]
fn relist_reports_what_changed_during_an_outage() {
    let mut index = synced(&["a", "b", "c"]);
    index.apply(Event::Init);
    index.apply(Event::InitApply(sandbox("a", "uid-a", "False")));
    index.apply(Event::InitApply(sandbox("c", "uid-c", "True")));
    index.apply(Event::InitApply(sandbox("d", "uid-d", "False")));
    assert!(index.get("b").is_some(), "state kept until the relist completes");
    assert_eq!(
        describe(&index.apply(Event::InitDone)),
        ["deleted:b", "sandbox:c", "sandbox:d"]
    );
    assert_eq!(index.all().len(), 3);
    let counts = index.phase_counts();
    assert!(
        counts.contains(&("ready", 1)) && counts.contains(&("provisioning", 2)),
        "{counts:?}"
    );
}

#[test]
fn kubernetes_events_become_platform_events_with_progress() {
    let index = synced(&["a"]);
    let event = |kind: &str, name: &str, reason: &str| -> KubeEvent {
        serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "involvedObject": {"kind": kind, "name": name, "namespace": "ns"},
            "reason": reason, "message": "m", "type": "Normal",
            "source": {"component": "default-scheduler"},
            "lastTimestamp": "2026-01-01T00:00:01Z"
        }))
        .expect("event")
    };
    let scheduled = index
        .platform_event(&event("Pod", "default--a", "Scheduled"))
        .expect("ours");
    let Some(Payload::PlatformEvent(p)) = scheduled.payload else {
        panic!("platform event")
    };
    assert_eq!(p.sandbox_id, "a");
    let e = p.event.expect("event");
    assert_eq!(
        (e.reason.as_str(), e.source.as_str(), e.timestamp_ms),
        ("Scheduled", "default-scheduler", 1_767_225_601_000)
    );
    assert_eq!(e.metadata["openshell.progress.complete_step"], "requesting_sandbox");
    assert_eq!(e.metadata["openshell.progress.active_step"], "pulling_image");
    assert!(
        index
            .platform_event(&event("Sandbox", "default--a", "Whatever"))
            .is_some()
    );
    assert!(
        index
            .platform_event(&event("Pod", "someone-else", "Scheduled"))
            .is_none()
    );
    assert!(
        index
            .platform_event(&event("Node", "default--a", "Scheduled"))
            .is_none()
    );
}

#[test]
fn phase_counts_follow_every_change() {
    let mut index = synced(&["a", "b"]);
    let count = |index: &SandboxIndex, phase: &str| {
        index
            .phase_counts()
            .iter()
            .find(|(p, _)| *p == phase)
            .map_or(0, |(_, c)| *c)
    };
    assert_eq!((count(&index, "provisioning"), count(&index, "ready")), (2, 0));
    index.apply(Event::Apply(sandbox("a", "uid-a", "True")));
    assert_eq!((count(&index, "provisioning"), count(&index, "ready")), (1, 1));
    index.apply(Event::Delete(sandbox("a", "uid-a", "True")));
    assert_eq!((count(&index, "provisioning"), count(&index, "ready")), (1, 0));
    index.apply(Event::Init);
    index.apply(Event::InitApply(sandbox("c", "uid-c", "True")));
    index.apply(Event::InitDone);
    assert_eq!(
        (count(&index, "provisioning"), count(&index, "ready")),
        (0, 1),
        "relist replaced b with c"
    );
    let total: i64 = index.phase_counts().iter().map(|(_, c)| c).sum();
    assert_eq!(total, index.all().len() as i64);
}
