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

mod pods {
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::kubernetes::pod_status::{PULL_GRACE, REFUSED_GRACE};

    fn pod(id: &str, uid: &str, waiting: Option<&str>) -> Pod {
        let state = match waiting {
            Some(reason) => {
                json!({"waiting": {"reason": reason, "message": format!("{reason} for registry.example/agent:1")}})
            }
            None => json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
        };
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("default--{id}"), "namespace": "ns", "uid": uid,
                         "labels": {LABEL_SANDBOX_ID: id, LABEL_MANAGED_BY: MANAGED_BY}},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "agent", "image": "registry.example/agent:1", "imageID": "", "ready": false, "restartCount": 0, "state": state}
            ]}
        }))
        .expect("pod")
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH
            .saturating_add(SignedDuration::from_secs(1_800_000_000 + s))
            .expect("ts")
    }

    fn phase(index: &SandboxIndex, id: &str) -> &'static str {
        index.get(id).expect("known").phase()
    }

    fn ready_reason(index: &SandboxIndex, id: &str) -> String {
        let view = index.get(id).expect("known");
        let status = view.snapshot.status.clone().expect("status");
        status
            .conditions
            .iter()
            .find(|c| c.r#type == "Ready")
            .expect("Ready")
            .reason
            .clone()
    }

    /// What a List sends for `id`: the view's kept bytes, decoded as the client does.
    fn listed(index: &SandboxIndex, id: &str) -> crate::proto::DriverSandbox {
        let entry = index.get(id).expect("known").encoded();
        let response: crate::proto::ListSandboxesResponse = prost::Message::decode(entry).expect("decodes");
        response.sandboxes.into_iter().next().expect("one sandbox")
    }

    #[test]
    fn a_list_sends_the_current_snapshot_after_every_change() {
        let mut index = synced(&["a"]);
        assert_eq!(
            listed(&index, "a"),
            index.get("a").expect("a").snapshot,
            "kept once listed"
        );
        // The pod's failure laid over the status, the pod recovered, then the controller's status.
        index.apply_pod(Event::Apply(pod("a", "p-1", Some("ErrImageNeverPull"))), at(0));
        let failed = listed(&index, "a");
        assert_eq!(failed, index.get("a").expect("a").snapshot);
        let reasons = |s: &crate::proto::DriverSandbox| -> Vec<String> {
            s.status
                .iter()
                .flat_map(|st| st.conditions.iter().map(|c| c.reason.clone()))
                .collect()
        };
        assert!(
            reasons(&failed).contains(&"ErrImageNeverPull".to_string()),
            "{failed:?}"
        );
        index.apply_pod(Event::Apply(pod("a", "p-1", None)), at(1));
        let recovered = listed(&index, "a");
        assert_eq!(recovered, index.get("a").expect("a").snapshot);
        assert!(
            !reasons(&recovered).contains(&"ErrImageNeverPull".to_string()),
            "{recovered:?}"
        );
        index.apply(Event::Apply(sandbox("a", "uid-a", "True")));
        assert_eq!(listed(&index, "a"), index.get("a").expect("a").snapshot);
        assert_eq!(phase(&index, "a"), "ready");
    }

    #[test]
    fn a_terminal_pod_failure_is_an_error_at_once_and_announced_once() {
        let mut index = synced(&["a"]);
        let out = index.apply_pod(Event::Apply(pod("a", "p-1", Some("ErrImageNeverPull"))), at(0));
        assert_eq!(describe(&out), ["sandbox:a", "event:a"]);
        assert_eq!(phase(&index, "a"), "error");
        assert_eq!(ready_reason(&index, "a"), "ErrImageNeverPull");
        let Some(Payload::PlatformEvent(e)) = &out[1].payload else {
            panic!("platform event")
        };
        let e = e.event.clone().expect("event");
        assert_eq!((e.reason.as_str(), e.r#type.as_str()), ("ErrImageNeverPull", "Warning"));
        assert!(e.message.contains("registry.example/agent:1"), "{}", e.message);
        // The same status again (a resync, a relist, a Sandbox status write): nothing new.
        assert!(
            index
                .apply_pod(Event::Apply(pod("a", "p-1", Some("ErrImageNeverPull"))), at(1))
                .is_empty()
        );
        index.apply_pod(Event::Init, at(2));
        let relisted = index.apply_pod(Event::InitApply(pod("a", "p-1", Some("ErrImageNeverPull"))), at(2));
        assert!(relisted.is_empty(), "{:?}", describe(&relisted));
        assert!(index.apply_pod(Event::InitDone, at(2)).is_empty());
        assert!(
            index
                .apply_at(Event::Apply(sandbox("a", "uid-a", "False")), at(3))
                .is_empty()
        );
        assert!(index.tick(at(100)).is_empty());
    }

    /// The controller's answer when the API server refused the pod (SCC admission here).
    fn refused(id: &str, message: &str) -> DynamicObject {
        let mut obj = sandbox(id, &format!("uid-{id}"), "False");
        obj.data["status"] = json!({"conditions": [
            {"type": "Ready", "status": "False", "reason": "ReconcilerError", "message": message}
        ]});
        obj
    }

    #[test]
    fn a_pod_the_api_server_refused_is_announced_at_once_and_fails_after_its_grace() {
        let scc = "Error seen: admission webhook \"scc.admission.security.openshift.io\" denied the request: \
                   pods \"default--a\" is forbidden: unable to validate against any security context constraint: \
                   provider openshell-sandbox: .spec.securityContext: not usable by user or serviceaccount";
        let other = "Error seen: pod get failed: the server was unable to return a response in the time allotted";
        let mut index = synced(&["a", "b"]);
        let out = index.apply_at(Event::Apply(refused("a", scc)), at(0));
        assert_eq!(describe(&out), ["sandbox:a", "event:a"]);
        let Some(Payload::PlatformEvent(e)) = &out[1].payload else {
            panic!("platform event")
        };
        let e = e.event.clone().expect("event");
        assert_eq!(e.reason, "FailedCreate");
        assert!(
            e.message
                .starts_with("pods \"default--a\" is forbidden: unable to validate"),
            "{}",
            e.message
        );
        assert_eq!(phase(&index, "a"), "provisioning", "an admin may still grant the SCC");
        assert!(
            index.apply_at(Event::Apply(refused("a", scc)), at(5)).is_empty(),
            "announced once"
        );
        // A Pod relist knows nothing of a pod that was never made: the refusal stays.
        index.apply_pod(Event::Init, at(6));
        assert!(index.apply_pod(Event::InitDone, at(6)).is_empty());
        let grace = REFUSED_GRACE.as_secs() as i64;
        assert_eq!(describe(&index.tick(at(grace))), ["sandbox:a"]);
        assert_eq!(
            (phase(&index, "a"), ready_reason(&index, "a")),
            ("error", "FailedCreate".into())
        );
        // Once the grant is there the pod exists, and the refusal is gone.
        index.apply_pod(Event::Apply(pod("a", "p-1", None)), at(grace + 1));
        index.apply_at(Event::Apply(sandbox("a", "uid-a", "False")), at(grace + 1));
        assert_eq!(phase(&index, "a"), "provisioning");
        // Other reconciler errors are the controller's own transient trouble.
        assert_eq!(
            describe(&index.apply_at(Event::Apply(refused("b", other)), at(0))),
            ["sandbox:b"]
        );
        assert!(index.tick(at(1000)).is_empty());
        assert_eq!(phase(&index, "b"), "provisioning");
    }

    #[test]
    fn a_pull_error_waits_out_its_grace_then_fails_on_a_tick() {
        let mut index = synced(&["a"]);
        let out = index.apply_pod(Event::Apply(pod("a", "p-1", Some("ErrImagePull"))), at(0));
        assert_eq!(
            describe(&out),
            ["sandbox:a", "event:a"],
            "the message changed, and the reason is announced"
        );
        assert_eq!(phase(&index, "a"), "provisioning");
        // The kubelet alternates the two reasons; the grace runs from the first.
        let out = index.apply_pod(Event::Apply(pod("a", "p-1", Some("ImagePullBackOff"))), at(10));
        assert_eq!(describe(&out), ["sandbox:a", "event:a"]);
        assert!(index.tick(at(20)).is_empty(), "nothing changes within the grace");
        let grace = PULL_GRACE.as_secs() as i64;
        assert_eq!(describe(&index.tick(at(grace))), ["sandbox:a"]);
        assert_eq!(phase(&index, "a"), "error");
        assert_eq!(ready_reason(&index, "a"), "ImagePullBackOff");
    }

    #[test]
    fn a_pull_that_clears_goes_back_to_the_controllers_view() {
        let mut index = synced(&["a"]);
        index.apply_pod(Event::Apply(pod("a", "p-1", Some("ErrImagePull"))), at(0));
        let out = index.apply_pod(Event::Apply(pod("a", "p-1", None)), at(5));
        assert_eq!(describe(&out), ["sandbox:a"]);
        let view = index.get("a").expect("known");
        assert_eq!(
            view.snapshot.status.as_ref().map(|s| &s.conditions),
            Some(&view.controller_conditions)
        );
        assert!(index.tick(at(1000)).is_empty());
    }

    #[test]
    fn a_pod_seen_before_its_sandbox_applies_when_the_sandbox_arrives() {
        let mut index = synced(&[]);
        assert!(
            index
                .apply_pod(Event::Apply(pod("a", "p-1", Some("InvalidImageName"))), at(0))
                .is_empty()
        );
        let out = index.apply_at(Event::Apply(sandbox("a", "uid-a", "False")), at(1));
        assert_eq!(describe(&out), ["sandbox:a", "event:a"]);
        assert_eq!(phase(&index, "a"), "error");
    }

    #[test]
    fn a_deleted_or_vanished_pod_stops_counting() {
        let mut index = synced(&["a", "b"]);
        index.apply_pod(Event::Apply(pod("a", "p-a", Some("ErrImageNeverPull"))), at(0));
        index.apply_pod(Event::Apply(pod("b", "p-b", Some("ErrImageNeverPull"))), at(0));
        // A Delete of an older pod (recreated meanwhile) does not clear the new one's failure.
        assert!(
            index
                .apply_pod(Event::Delete(pod("a", "p-old", None)), at(1))
                .is_empty()
        );
        assert_eq!(
            describe(&index.apply_pod(Event::Delete(pod("a", "p-a", None)), at(1))),
            ["sandbox:a"]
        );
        assert_eq!(phase(&index, "a"), "provisioning");
        index.apply_pod(Event::Init, at(2));
        assert_eq!(describe(&index.apply_pod(Event::InitDone, at(2))), ["sandbox:b"]);
        assert_eq!(phase(&index, "b"), "provisioning");
        // A new pod of the same sandbox (new uid) is announced again.
        let out = index.apply_pod(Event::Apply(pod("b", "p-b2", Some("ErrImageNeverPull"))), at(3));
        assert_eq!(describe(&out), ["sandbox:b", "event:b"]);
    }
}
