//! A Route as the API server stores it, read for two things: the host to report from
//! ResolveSandboxEndpoint, and routers that refused it (platform events). Pure.

use std::collections::HashMap;

use crate::kubernetes::identity::LABEL_SANDBOX_ID;
use crate::openshift::pod::OAUTH_CLIENT_ANNOTATION;
use crate::proto::DriverPlatformEvent;

pub const ROUTE_EVENT_SOURCE: &str = "route.openshift.io";
pub const NOT_ADMITTED_REASON: &str = "RouteNotAdmitted";

/// What the driver keeps of one sandbox's Route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteState {
    pub sandbox_id: String,
    pub name: String,
    /// The admitted host, else the requested one.
    pub host: String,
    /// The ServiceAccount carrying the OAuth redirect annotation for this Route, if any.
    pub oauth_client: Option<String>,
    pub rejections: Vec<Rejection>,
}

/// One router's `Admitted=False`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub router: String,
    pub reason: String,
    pub message: String,
}

/// Reads a Route; `None` when it carries no sandbox id (not ours).
pub fn route_state(route: &serde_json::Value) -> Option<RouteState> {
    let metadata = &route["metadata"];
    let sandbox_id = metadata["labels"][LABEL_SANDBOX_ID].as_str()?.to_string();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let ingress = route["status"]["ingress"].as_array().cloned().unwrap_or_default();
    let admitted = |i: &serde_json::Value, status: &str| {
        i["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Admitted" && c["status"] == status)
            .cloned()
    };
    let admitted_host = ingress
        .iter()
        .filter(|i| admitted(i, "True").is_some())
        .find_map(|i| i["host"].as_str().filter(|h| !h.is_empty()));
    let rejections = ingress
        .iter()
        .filter_map(|i| {
            admitted(i, "False").map(|c| Rejection {
                router: text(&i["routerName"]),
                reason: text(&c["reason"]),
                message: text(&c["message"]),
            })
        })
        .collect();
    Some(RouteState {
        sandbox_id,
        name: text(&metadata["name"]),
        host: admitted_host.map_or_else(|| text(&route["spec"]["host"]), str::to_string),
        oauth_client: metadata["annotations"][OAUTH_CLIENT_ANNOTATION]
            .as_str()
            .map(str::to_string),
        rejections,
    })
}

/// Rejections in `now` that `before` did not have: each is reported once.
pub fn new_rejections<'a>(before: Option<&RouteState>, now: &'a RouteState) -> Vec<&'a Rejection> {
    now.rejections
        .iter()
        .filter(|r| before.is_none_or(|b| !b.rejections.contains(r)))
        .collect()
}

pub fn rejection_event(route: &str, rejection: &Rejection, timestamp_ms: i64) -> DriverPlatformEvent {
    let router = if rejection.router.is_empty() {
        "a router"
    } else {
        &rejection.router
    };
    DriverPlatformEvent {
        timestamp_ms,
        source: ROUTE_EVENT_SOURCE.into(),
        r#type: "Warning".into(),
        reason: NOT_ADMITTED_REASON.into(),
        message: format!(
            "Route {route} was not admitted by {router}: {}{}{}",
            rejection.reason,
            if rejection.message.is_empty() { "" } else { ": " },
            rejection.message
        ),
        metadata: HashMap::from([
            ("route".to_string(), route.to_string()),
            ("router".to_string(), rejection.router.clone()),
        ]),
    }
}

#[cfg(test)]
mod tests {
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
}
