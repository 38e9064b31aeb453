//! What the gateway reads from the wire types: the phase it derives from a sandbox snapshot
//! and the kind of a watch event (both bounded, so they also serve as metric labels).

use crate::proto::watch_sandboxes_event::Payload;
use crate::proto::{DriverSandbox, WatchSandboxesEvent};

/// The phase the gateway derives from a snapshot, by its rules in order: deleting, a
/// `Suspended=True` condition, then the first `Ready` condition.
pub fn gateway_phase(sandbox: &DriverSandbox) -> &'static str {
    let Some(status) = sandbox.status.as_ref() else {
        return "provisioning";
    };
    if status.deleting {
        return "deleting";
    }
    if status
        .conditions
        .iter()
        .any(|c| c.r#type == "Suspended" && c.status == "True")
    {
        return "stopped";
    }
    let ready = status.conditions.iter().find(|c| c.r#type == "Ready");
    match ready.map(|c| (c.status.as_str(), c.reason.as_str())) {
        Some(("True", _)) => "ready",
        Some(("False", reason)) if !TRANSIENT_REASONS.contains(&reason) => "error",
        _ => "provisioning",
    }
}

/// Ready=False reasons the gateway treats as still provisioning.
pub const TRANSIENT_REASONS: [&str; 8] = [
    "ReconcilerError",
    "DependenciesNotReady",
    "SupervisorNotConnected",
    "Starting",
    "ContainerStarting",
    "ContainerCreated",
    "HealthcheckStarting",
    "InspectFailed",
];

/// A bounded name for each payload kind, for metrics and logs.
pub fn event_kind(event: &WatchSandboxesEvent) -> &'static str {
    match event.payload {
        Some(Payload::Sandbox(_)) => "sandbox",
        Some(Payload::Deleted(_)) => "deleted",
        Some(Payload::PlatformEvent(_)) => "platform_event",
        None => "empty",
    }
}
