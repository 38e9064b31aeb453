//! Tier 1: expiry, table by table: the TTL's parsing, the stamped shutdownTime, and an expired
//! sandbox reported as stopped (not failed) and refused a start.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::config::DriverConfig;
use crate::kubernetes::expiry::*;
use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
use crate::kubernetes::status::sandbox_view;
use crate::proto::json::json_to_struct;
use crate::proto::phase::gateway_phase;
use crate::proto::*;

fn request(driver_config: Option<serde_json::Value>) -> DriverSandbox {
    DriverSandbox {
        id: "id-1".into(),
        name: "dev".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["sleep".into()],
            template: Some(DriverSandboxTemplate {
                image: "agent:1".into(),
                driver_config: driver_config.map(|v| json_to_struct(&v).expect("object")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn ttls_parse_and_zero_means_never() {
    for (text, want) in [("30m", 1800), ("8h", 28800), ("7d", 604_800), ("1s", 1), ("0s", 0)] {
        assert_eq!(parse_default_ttl(text), Ok(Duration::from_secs(want)), "{text}");
    }
    for bad in ["soon", "-1h", "", "200years"] {
        let err = parse_default_ttl(bad).expect_err(bad);
        assert!(err.contains("--default-ttl"), "{bad}: {err}");
    }
    let hour = Duration::from_secs(3600);
    assert_eq!(
        effective_ttl(None, Duration::ZERO).expect("ok"),
        None,
        "no TTL anywhere"
    );
    assert_eq!(
        effective_ttl(None, hour).expect("ok"),
        Some(hour),
        "the driver's default"
    );
    assert_eq!(
        effective_ttl(Some(&"15m".into()), hour).expect("ok"),
        Some(Duration::from_secs(900)),
        "the request's wins"
    );
    for (bad, needle) in [
        ("0s", "below one second"),
        ("later", "not a duration"),
        ("500ms", "below one second"),
    ] {
        let err = effective_ttl(Some(&bad.into()), hour).expect_err(bad);
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(
            err.to_string().contains("driver_config.ttl") && err.to_string().contains(needle),
            "{err}"
        );
    }
}

#[test]
fn the_shutdown_time_is_create_plus_ttl_to_the_second() {
    let now: Timestamp = "2026-03-01T10:00:00.750Z".parse().expect("time");
    assert_eq!(
        shutdown_time(now, Duration::from_secs(8 * 3600)).expect("time"),
        "2026-03-01T18:00:00Z"
    );
}

#[test]
fn rendering_sets_the_policy_and_stamping_the_time() {
    let now: Timestamp = "2026-03-01T10:00:00Z".parse().expect("time");
    let mut config = DriverConfig::defaults();
    let cases = [
        (None, Duration::ZERO, ExpiryPolicy::Retain, None),
        (
            None,
            Duration::from_secs(60),
            ExpiryPolicy::Retain,
            Some(("2026-03-01T10:01:00Z", "Retain")),
        ),
        (
            Some(serde_json::json!({"ttl": "2h"})),
            Duration::from_secs(60),
            ExpiryPolicy::Delete,
            Some(("2026-03-01T12:00:00Z", "Delete")),
        ),
        (
            Some(serde_json::json!({"ttl": "2h"})),
            Duration::ZERO,
            ExpiryPolicy::Retain,
            Some(("2026-03-01T12:00:00Z", "Retain")),
        ),
    ];
    for (driver_config, default, policy, want) in cases {
        config.default_ttl = default;
        config.expiry_policy = policy;
        let mut r = render_sandbox(
            &request(driver_config.clone()),
            &config,
            SandboxApiVersion::V1beta1,
            &[],
        )
        .expect("renders");
        assert_eq!(r.manifest.spec.shutdown_time, None, "rendering has no clock");
        r.stamp_expiry(now).expect("stamps");
        let got = r
            .manifest
            .spec
            .shutdown_time
            .as_deref()
            .zip(r.manifest.spec.shutdown_policy.as_deref());
        assert_eq!(got, want, "{driver_config:?} default {default:?}");
    }
    let err = render_sandbox(
        &request(Some(serde_json::json!({"ttl": 5}))),
        &config,
        SandboxApiVersion::V1beta1,
        &[],
    )
    .expect_err("a number is not a duration");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.to_string().contains("driver_config.ttl"), "{err}");
}

fn stored(conditions: serde_json::Value) -> kube::api::DynamicObject {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "agents.x-k8s.io/v1beta1", "kind": "Sandbox",
        "metadata": {"name": "default--dev", "namespace": "ns", "uid": "u",
                     "labels": {"openshell.ai/sandbox-id": "id-1"}},
        "spec": {}, "status": {"conditions": conditions}
    }))
    .expect("object")
}

#[test]
fn an_expired_sandbox_is_stopped_not_failed_and_cannot_start() {
    // As agent-sandbox v0.5.6 stores it: its own Suspended=False stays beside the expired Ready.
    let expired = stored(serde_json::json!([{
        "type": "Ready", "status": "False", "reason": "SandboxExpired",
        "message": "Sandbox has expired", "lastTransitionTime": "2026-03-01T12:00:00Z"
    }, {
        "type": "Suspended", "status": "False", "reason": "NotSuspended",
        "message": "", "lastTransitionTime": "2026-03-01T11:00:00Z"
    }]));
    let view = sandbox_view(&expired).expect("view");
    assert_eq!(gateway_phase(&view.snapshot), "stopped", "not error");
    assert!(view.suspended, "its pod is gone");
    let laid = view
        .snapshot
        .status
        .as_ref()
        .expect("status")
        .conditions
        .iter()
        .filter(|c| c.r#type == "Suspended")
        .collect::<Vec<_>>();
    assert_eq!(laid.len(), 1, "one Suspended condition: {laid:?}");
    let laid = laid[0];
    assert_eq!(
        (laid.reason.as_str(), laid.message.as_str()),
        ("SandboxExpired", "Sandbox has expired")
    );
    let err = refuse_start(&view.controller_conditions, "id-1").expect_err("expired");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.to_string().contains("expired") && err.to_string().contains("id-1"),
        "{err}"
    );

    for (conditions, phase) in [
        (
            serde_json::json!([{"type": "Ready", "status": "True", "reason": "DependenciesReady"}]),
            "ready",
        ),
        (
            serde_json::json!([{"type": "Ready", "status": "False", "reason": "ReconcilerError"}]),
            "provisioning",
        ),
        (
            serde_json::json!([{"type": "Ready", "status": "False", "reason": "PodFailed"}]),
            "error",
        ),
    ] {
        let view = sandbox_view(&stored(conditions.clone())).expect("view");
        assert_eq!(gateway_phase(&view.snapshot), phase, "{conditions}");
        assert!(refuse_start(&view.controller_conditions, "id-1").is_ok());
    }
}
