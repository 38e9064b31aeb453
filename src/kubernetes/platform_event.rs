//! A Kubernetes Event as the gateway's platform event, with the progress markers its CLI follows.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Event as KubeEvent;

use crate::proto::DriverPlatformEvent;

const STEP_REQUESTING: &str = "requesting_sandbox";
const STEP_PULLING: &str = "pulling_image";
const STEP_STARTING: &str = "starting_sandbox";

/// The event itself plus the progress markers the gateway's CLI follows.
pub fn platform_event_of(event: &KubeEvent) -> DriverPlatformEvent {
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
