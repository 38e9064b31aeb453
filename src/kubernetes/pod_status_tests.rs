//! The pod-failure table, one row per reason, from recorded Pod statuses
//! (tests/fixtures/pod-status/*.json, shaped as the kubelet and scheduler write them).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::kubernetes::pod_status::*;
use crate::proto::phase::gateway_phase;
use crate::proto::{DriverCondition, DriverSandbox, DriverSandboxStatus};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../tests/fixtures/pod-status/", $name, ".json")),
        )
    };
}

const FIXTURES: [(&str, &str); 13] = [
    fixture!("err-image-never-pull"),
    fixture!("invalid-image-name"),
    fixture!("err-image-pull"),
    fixture!("image-pull-backoff"),
    fixture!("create-container-config-error"),
    fixture!("create-container-error"),
    fixture!("crash-loop-backoff"),
    fixture!("start-error"),
    fixture!("init-container-failed"),
    fixture!("unschedulable"),
    fixture!("evicted"),
    fixture!("container-creating"),
    fixture!("running"),
];

const UNSCHEDULABLE_TIMEOUT: Duration = Duration::from_secs(300);

/// (fixture, reason, container, phase at first sight, phase after the grace, text in the message)
type Row = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
);

const TABLE: [Row; 13] = [
    (
        "err-image-never-pull",
        Some("ErrImageNeverPull"),
        Some("agent"),
        "error",
        "error",
        "is not present with pull policy of Never",
    ),
    (
        "invalid-image-name",
        Some("InvalidImageName"),
        Some("agent"),
        "error",
        "error",
        "invalid reference format",
    ),
    (
        "err-image-pull",
        Some("ErrImagePull"),
        Some("agent"),
        "provisioning",
        "error",
        "i/o timeout",
    ),
    (
        "image-pull-backoff",
        Some("ImagePullBackOff"),
        Some("agent"),
        "provisioning",
        "error",
        "pull access denied",
    ),
    (
        "create-container-config-error",
        Some("CreateContainerConfigError"),
        Some("agent"),
        "provisioning",
        "error",
        "openshell-token\" not found",
    ),
    (
        "create-container-error",
        Some("CreateContainerError"),
        Some("agent"),
        "provisioning",
        "error",
        "permission denied",
    ),
    (
        "crash-loop-backoff",
        Some("CrashLoopBackOff"),
        Some("agent"),
        "error",
        "error",
        "exited with code 1 (Error)",
    ),
    (
        "start-error",
        Some("StartError"),
        Some("agent"),
        "error",
        "error",
        "no such file or directory",
    ),
    (
        "init-container-failed",
        Some("InitContainerFailed"),
        Some("supervisor"),
        "error",
        "error",
        "exited with code 2",
    ),
    (
        "unschedulable",
        Some("Unschedulable"),
        None,
        "provisioning",
        "error",
        "Insufficient nvidia.com/gpu",
    ),
    ("evicted", Some("Evicted"), None, "error", "error", "low on resource"),
    ("container-creating", None, None, "provisioning", "provisioning", ""),
    ("running", None, None, "provisioning", "provisioning", ""),
];

fn pod(fixture: &str) -> Pod {
    let status: serde_json::Value = serde_json::from_str(fixture).expect("fixture json");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "default--dev", "namespace": "openshell-system", "uid": "p-1"},
        "status": status
    }))
    .expect("pod")
}

fn text(name: &str) -> &'static str {
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).expect(name)
}

/// The controller's condition for a pod that waits: what the gateway saw before.
fn controller_pending() -> Vec<DriverCondition> {
    vec![DriverCondition {
        r#type: "Ready".into(),
        status: "False".into(),
        reason: "DependenciesNotReady".into(),
        message: "Pod exists with phase: Pending".into(),
        last_transition_time: "2026-01-01T00:00:00Z".into(),
    }]
}

fn phase_of(conditions: Vec<DriverCondition>) -> &'static str {
    gateway_phase(&DriverSandbox {
        status: Some(DriverSandboxStatus {
            conditions,
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn at(seconds: i64) -> Timestamp {
    "2026-01-01T00:00:00Z"
        .parse::<Timestamp>()
        .expect("ts")
        .saturating_add(SignedDuration::from_secs(seconds))
        .expect("ts")
}

#[test]
fn every_fixture_has_a_row() {
    assert_eq!(FIXTURES.len(), TABLE.len());
    for (name, ..) in TABLE {
        text(name);
    }
    for rule in WAITING_RULES {
        assert!(
            TABLE.iter().any(|row| row.1 == Some(rule.reason)),
            "{} has a row",
            rule.reason
        );
    }
}

#[test]
fn pod_statuses_map_to_reasons_and_terminal_decisions() {
    let first_seen = at(0);
    let later = at(UNSCHEDULABLE_TIMEOUT.as_secs() as i64 + 1);
    for (name, reason, container, at_once, after_grace, needle) in TABLE {
        let failure = pod_failure(&pod(text(name)));
        assert_eq!(failure.as_ref().map(|f| f.reason.as_str()), reason, "{name}");
        if let Some(f) = &failure {
            assert_eq!(f.container.as_deref(), container, "{name}");
            assert!(f.message.contains(needle), "{name}: {}", f.message);
        }
        let overlay = |now| {
            ready_overlay(
                &controller_pending(),
                failure.as_ref(),
                first_seen,
                now,
                UNSCHEDULABLE_TIMEOUT,
            )
            .0
        };
        let now = overlay(first_seen);
        assert_eq!(phase_of(now.clone()), at_once, "{name} at first sight: {now:?}");
        let then = overlay(later);
        assert_eq!(phase_of(then.clone()), after_grace, "{name} after the grace: {then:?}");
        if let Some(reason) = reason {
            let ready = then.iter().find(|c| c.r#type == "Ready").expect("Ready");
            assert_eq!(ready.reason, reason, "{name}: the gateway shows the kubelet's reason");
            assert!(ready.message.contains(needle), "{name}: {}", ready.message);
            let first = now.iter().find(|c| c.r#type == "Ready").expect("Ready");
            if at_once == "provisioning" {
                assert!(
                    first.message.contains(reason),
                    "{name}: the wait says why: {}",
                    first.message
                );
            }
        }
    }
}

#[test]
fn graces_end_when_the_table_says() {
    let failure = pod_failure(&pod(text("err-image-pull"))).expect("failure");
    let grace = PULL_GRACE.as_secs() as i64;
    let phase = |s| {
        phase_of(
            ready_overlay(
                &controller_pending(),
                Some(&failure),
                at(0),
                at(s),
                UNSCHEDULABLE_TIMEOUT,
            )
            .0,
        )
    };
    assert_eq!(phase(grace - 1), "provisioning");
    assert_eq!(phase(grace), "error");
    // Unschedulable counts from the scheduler's transition, not from when the driver saw it.
    let unschedulable = pod_failure(&pod(text("unschedulable"))).expect("failure");
    let timeout = Duration::from_secs(60);
    let phase =
        |seen, s| phase_of(ready_overlay(&controller_pending(), Some(&unschedulable), at(seen), at(s), timeout).0);
    assert_eq!(phase(30, 59), "provisioning");
    assert_eq!(phase(30, 60), "error");
}

#[test]
fn a_ready_or_stopped_sandbox_keeps_the_controllers_conditions() {
    let failure = pod_failure(&pod(text("crash-loop-backoff"))).expect("failure");
    for (t, s) in [("Ready", "True"), ("Suspended", "True")] {
        let conditions = vec![DriverCondition {
            r#type: t.into(),
            status: s.into(),
            ..Default::default()
        }];
        let (out, terminal) = ready_overlay(&conditions, Some(&failure), at(0), at(999), UNSCHEDULABLE_TIMEOUT);
        assert_eq!(out, conditions);
        assert!(!terminal);
    }
    // No Ready condition yet (the controller has not written status): one is added.
    let (out, _) = ready_overlay(&[], Some(&failure), at(0), at(0), UNSCHEDULABLE_TIMEOUT);
    assert_eq!(phase_of(out), "error");
}

#[test]
fn the_waiting_message_does_not_change_with_time() {
    let failure = pod_failure(&pod(text("err-image-pull"))).expect("failure");
    let msg = |s| {
        ready_overlay(
            &controller_pending(),
            Some(&failure),
            at(0),
            at(s),
            UNSCHEDULABLE_TIMEOUT,
        )
        .0
    };
    assert_eq!(msg(1), msg(20), "a tick republishes nothing");
}

#[test]
fn messages_are_one_trimmed_line_without_credentials() {
    let failure = pod_failure(&pod(text("err-image-pull"))).expect("failure");
    assert!(!failure.message.contains("hunter2"), "{}", failure.message);
    assert!(
        failure.message.contains("https://[redacted]@registry.example/v2"),
        "{}",
        failure.message
    );
    let crash = pod_failure(&pod(text("crash-loop-backoff"))).expect("failure");
    assert!(!crash.message.contains("abc.def.ghi"), "{}", crash.message);
    assert_eq!(clean_message("a\n  b\tc"), "a b c");
    assert_eq!(
        clean_message("Authorization: Bearer sekrit now"),
        "Authorization: Bearer [redacted] now"
    );
    let long = clean_message(&"x ".repeat(1000));
    assert_eq!(long.chars().count(), MAX_MESSAGE);
    assert!(clean_message(&"é".repeat(1000)).ends_with('…'));
}

#[test]
fn the_docs_table_has_every_reason() {
    let doc = include_str!("../../docs/pod-failures.md");
    for (_, reason, ..) in TABLE {
        if let Some(reason) = reason {
            assert!(
                doc.contains(&format!("`{reason}`")),
                "docs/pod-failures.md lists {reason}"
            );
        }
    }
}
