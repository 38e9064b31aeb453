//! Tier 1: the tests of `status`.

use super::*;
use serde_json::json;

fn object(status: serde_json::Value, extra_meta: serde_json::Value) -> DynamicObject {
    let mut meta = json!({
        "name": "default--dev", "namespace": "openshell-system", "uid": "u-1",
        "labels": {LABEL_SANDBOX_ID: "id-1", LABEL_SANDBOX_NAME: "dev", LABEL_WORKSPACE: "default"}
    });
    if let (Some(m), Some(extra)) = (meta.as_object_mut(), extra_meta.as_object()) {
        m.extend(extra.clone());
    }
    serde_json::from_value(json!({
        "apiVersion": "agents.x-k8s.io/v1beta1", "kind": "Sandbox",
        "metadata": meta, "spec": {}, "status": status
    }))
    .expect("object")
}

fn cond(t: &str, s: &str, r: &str) -> serde_json::Value {
    json!({"type": t, "status": s, "reason": r, "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

#[test]
fn phases_follow_the_gateway_rules() {
    let cases = [
        (json!({}), json!({}), "provisioning"),
        (
            json!({"conditions": [cond("Ready", "True", "DependenciesReady")]}),
            json!({}),
            "ready",
        ),
        (
            json!({"conditions": [cond("Ready", "False", "DependenciesNotReady")]}),
            json!({}),
            "provisioning",
        ),
        (
            json!({"conditions": [cond("Ready", "False", "PodFailed")]}),
            json!({}),
            "error",
        ),
        (json!({"conditions": [cond("Ready", "False", "")]}), json!({}), "error"),
        (
            json!({"conditions": [cond("Ready", "Unknown", "")]}),
            json!({}),
            "provisioning",
        ),
        (
            json!({"conditions": [cond("Suspended", "True", "PodTerminated"), cond("Ready", "False", "SandboxSuspended")]}),
            json!({}),
            "stopped",
        ),
        (
            json!({"conditions": [cond("Ready", "True", "")]}),
            json!({"deletionTimestamp": "2026-01-01T00:00:00Z"}),
            "deleting",
        ),
        (json!("garbage"), json!({}), "provisioning"),
    ];
    for (status, meta, want) in cases {
        let view = sandbox_view(&object(status.clone(), meta)).expect("ours");
        assert_eq!(view.phase(), want, "{status}");
    }
}

#[test]
fn snapshot_echoes_identity_and_status() {
    let status = json!({
        "conditions": [cond("Ready", "True", "DependenciesReady"), cond("PodScheduled", "True", "PodScheduled")],
        "podIPs": ["10.244.0.7"], "nodeName": "node-a",
        "serviceFQDN": "default--dev.openshell-system.svc.cluster.local", "selector": "x=y"
    });
    let view = sandbox_view(&object(status, json!({"annotations": {POD_NAME_ANNOTATION: "pod-x"}}))).expect("ours");
    assert_eq!(view.snapshot.id, "id-1");
    assert_eq!(view.snapshot.name, "dev");
    let s = view.snapshot.status.clone().expect("status");
    assert_eq!(s.instance_id, "pod-x");
    assert_eq!(s.sandbox_name, "default--dev");
    assert_eq!(s.conditions.len(), 2);
    assert_eq!(s.conditions[0].last_transition_time, "2026-01-01T00:00:00Z");
    assert!(!s.deleting);
    assert_eq!(view.endpoint.pod_ips, vec!["10.244.0.7"]);
    assert_eq!(view.endpoint.node_name, "node-a");
    assert_eq!(view.uid, "u-1");
}

#[test]
fn instance_defaults_to_object_name_and_foreign_objects_are_skipped() {
    let view = sandbox_view(&object(json!({}), json!({}))).expect("ours");
    assert_eq!(view.endpoint.instance_id, "default--dev");
    let mut foreign = object(json!({}), json!({}));
    foreign.metadata.labels = None;
    assert!(sandbox_view(&foreign).is_none());
}
