//! Tier 1: the tests of `routes`.

use serde_json::json;

use super::*;

fn route(spec_host: Option<&str>, ingress: serde_json::Value) -> serde_json::Value {
    let mut spec = json!({"to": {"kind": "Service", "name": "sandbox-x"}});
    if let Some(h) = spec_host {
        spec["host"] = h.into();
    }
    json!({
        "metadata": {"name": "sandbox-x", "labels": {LABEL_SANDBOX_ID: "id-1"}},
        "spec": spec,
        "status": {"ingress": ingress},
    })
}

#[test]
fn host_and_rejections_by_status() {
    let admitted = |host: &str, router: &str| json!({"host": host, "routerName": router, "conditions": [{"type": "Admitted", "status": "True"}]});
    let rejected = json!({"host": "x.apps", "routerName": "sharded", "conditions": [
        {"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed", "message": "route y has the host"}]});
    let cases = [
        (route(Some("asked.apps"), json!([])), "asked.apps", 0),
        (route(None, json!([])), "", 0),
        (route(None, json!([admitted("given.apps", "default")])), "given.apps", 0),
        (route(Some("asked.apps"), json!([rejected.clone()])), "asked.apps", 1),
        (
            route(Some("asked.apps"), json!([rejected, admitted("ok.apps", "default")])),
            "ok.apps",
            1,
        ),
    ];
    for (object, host, rejections) in cases {
        let state = route_state(&object).expect("ours");
        assert_eq!(
            (state.host.as_str(), state.rejections.len()),
            (host, rejections),
            "{object}"
        );
        assert_eq!(state.sandbox_id, "id-1");
    }
    assert!(route_state(&json!({"metadata": {"name": "other"}})).is_none());
}

#[test]
fn each_rejection_is_reported_once_with_its_reason() {
    let rejected = route(
        None,
        json!([{"routerName": "default", "conditions": [
        {"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed", "message": "taken"}]}]),
    );
    let state = route_state(&rejected).expect("ours");
    let fresh = new_rejections(None, &state);
    assert_eq!(fresh.len(), 1);
    assert!(new_rejections(Some(&state), &state).is_empty());
    let event = rejection_event(&state.name, fresh[0], 7);
    assert_eq!(
        (event.r#type.as_str(), event.reason.as_str()),
        ("Warning", NOT_ADMITTED_REASON)
    );
    assert_eq!(
        event.message,
        "Route sandbox-x was not admitted by default: HostAlreadyClaimed: taken"
    );
    assert_eq!(event.metadata["router"], "default");
}
