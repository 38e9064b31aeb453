//! A Route as the API server stores it, read for two things: the host to report from
//! ResolveSandboxEndpoint, and routers that refused it (platform events). Pure.

use std::collections::HashMap;

use crate::kubernetes::identity::LABEL_SANDBOX_ID;
use crate::openshift::pod::OAUTH_CLIENT_ANNOTATION;
use crate::proto::DriverPlatformEvent;

pub const ROUTE_EVENT_SOURCE: &str = crate::openshift::api::ROUTE_GROUP;
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
#[path = "routes_tests.rs"]
mod tests;
