//! Tier 1: every wire message survives message → canonical JSON → message, requests are read in
//! both field spellings with Struct as plain JSON, and unknown fields are refused with their path.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;

use super::*;
use crate::proto::gateway_listener_requirement::Selector;
use crate::proto::watch_sandboxes_event::Payload;
use crate::proto::*;

fn sandbox() -> DriverSandbox {
    DriverSandbox {
        id: "7f0c2a8e-3b1d-4c55-9e7a-2d6b8f4a1c90".into(),
        name: "demo".into(),
        namespace: "openshell-system".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            log_level: "info".into(),
            environment: HashMap::from([("A".into(), "B".into())]),
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                agent_socket_path: "/run/agent.sock".into(),
                labels: HashMap::from([("team".into(), "ml".into())]),
                environment: HashMap::from([("C".into(), "D".into())]),
                resources: Some(DriverResourceRequirements {
                    cpu_request: "250m".into(),
                    cpu_limit: "1".into(),
                    memory_request: "512Mi".into(),
                    memory_limit: "1Gi".into(),
                }),
                platform_config: json_to_struct(&json!({"runtime_class_name": "kata", "expose": {"port": 8888}})),
                driver_config: json_to_struct(&json!({"volume_mounts": [{"claim_name": "d", "read_only": true}]})),
            }),
            resource_requirements: Some(ResourceRequirements {
                gpu: Some(GpuResourceRequirements { count: Some(2) }),
            }),
            sandbox_token: "token".into(),
            command: vec!["/bin/bash".into(), "-l".into()],
            tty: true,
        }),
        status: Some(DriverSandboxStatus {
            sandbox_name: "default--demo".into(),
            instance_id: "uid-1".into(),
            agent_fd: "3".into(),
            sandbox_fd: "4".into(),
            conditions: vec![DriverCondition {
                r#type: "Ready".into(),
                status: "True".into(),
                reason: "DependenciesReady".into(),
                message: "ok".into(),
                last_transition_time: "2026-01-01T00:00:00Z".into(),
            }],
            deleting: true,
        }),
    }
}

fn platform_event() -> DriverPlatformEvent {
    DriverPlatformEvent {
        timestamp_ms: 1_767_225_600_000,
        source: "kubelet".into(),
        r#type: "Warning".into(),
        reason: "Failed".into(),
        message: "pull failed".into(),
        metadata: HashMap::from([("pod".into(), "p".into())]),
    }
}

/// Message → JSON → message, equal; and a message with fields writes some JSON.
fn round_trip<T>(name: &'static str, message: T, seen: &mut BTreeSet<&'static str>)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + Default + std::fmt::Debug,
{
    let json = to_json(&message);
    let back: T = from_json(json.clone()).unwrap_or_else(|e| panic!("{name}: {e} in {json}"));
    assert_eq!(back, message, "{name}: {json}");
    if message != T::default() {
        assert_ne!(json, json!({}), "{name}: fields were written");
    }
    seen.insert(name);
}

/// The message names declared in the proto file.
fn declared_messages() -> BTreeSet<String> {
    let proto = include_str!("../../proto/compute_driver.proto");
    proto
        .lines()
        .filter_map(|l| l.trim().strip_prefix("message "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_message_round_trips_through_canonical_json() {
    let mut seen = BTreeSet::new();
    let s = &mut seen;
    let target = || ("7f0c2a8e-3b1d-4c55-9e7a-2d6b8f4a1c90".to_string(), "demo".to_string());
    round_trip("GetCapabilitiesRequest", GetCapabilitiesRequest {}, s);
    round_trip(
        "GetCapabilitiesResponse",
        GetCapabilitiesResponse {
            driver_name: "openshift".into(),
            driver_version: "0.1.0".into(),
            default_image: "img".into(),
            gateway_manages_lifecycle: true,
        },
        s,
    );
    round_trip(
        "GetGatewayListenerRequirementsRequest",
        GetGatewayListenerRequirementsRequest {},
        s,
    );
    let requirements = vec![
        GatewayListenerRequirement {
            reason: "bind".into(),
            selector: Some(Selector::ExactBindAddress("0.0.0.0".into())),
        },
        GatewayListenerRequirement {
            reason: "route".into(),
            selector: Some(Selector::DefaultRouteInterface(
                GatewayDefaultRouteInterfaceRequirement {},
            )),
        },
        GatewayListenerRequirement {
            reason: "loopback".into(),
            selector: Some(Selector::LoopbackInterface(GatewayLoopbackInterfaceRequirement {})),
        },
    ];
    for requirement in &requirements {
        round_trip("GatewayListenerRequirement", requirement.clone(), s);
    }
    round_trip(
        "GetGatewayListenerRequirementsResponse",
        GetGatewayListenerRequirementsResponse { requirements },
        s,
    );
    round_trip(
        "GatewayDefaultRouteInterfaceRequirement",
        GatewayDefaultRouteInterfaceRequirement {},
        s,
    );
    round_trip(
        "GatewayLoopbackInterfaceRequirement",
        GatewayLoopbackInterfaceRequirement {},
        s,
    );
    let full = sandbox();
    let spec = full.spec.clone().unwrap_or_default();
    let template = spec.template.clone().unwrap_or_default();
    let status = full.status.clone().unwrap_or_default();
    round_trip("DriverSandbox", full.clone(), s);
    round_trip("DriverSandboxSpec", spec.clone(), s);
    round_trip("DriverSandboxTemplate", template.clone(), s);
    round_trip("DriverResourceRequirements", template.resources.unwrap_or_default(), s);
    round_trip(
        "ResourceRequirements",
        spec.resource_requirements.unwrap_or_default(),
        s,
    );
    round_trip("GpuResourceRequirements", GpuResourceRequirements { count: Some(0) }, s);
    round_trip("DriverSandboxStatus", status.clone(), s);
    round_trip("DriverCondition", status.conditions[0].clone(), s);
    round_trip("DriverPlatformEvent", platform_event(), s);
    round_trip(
        "ValidateSandboxCreateRequest",
        ValidateSandboxCreateRequest {
            sandbox: Some(full.clone()),
        },
        s,
    );
    round_trip("ValidateSandboxCreateResponse", ValidateSandboxCreateResponse {}, s);
    let (sandbox_id, sandbox_name) = target();
    round_trip(
        "GetSandboxRequest",
        GetSandboxRequest {
            sandbox_id,
            sandbox_name,
        },
        s,
    );
    round_trip(
        "GetSandboxResponse",
        GetSandboxResponse {
            sandbox: Some(full.clone()),
        },
        s,
    );
    round_trip("ListSandboxesRequest", ListSandboxesRequest {}, s);
    round_trip(
        "ListSandboxesResponse",
        ListSandboxesResponse {
            sandboxes: vec![full.clone(), DriverSandbox::default()],
            encoded: vec![],
        },
        s,
    );
    round_trip(
        "CreateSandboxRequest",
        CreateSandboxRequest {
            sandbox: Some(full.clone()),
        },
        s,
    );
    round_trip("CreateSandboxResponse", CreateSandboxResponse {}, s);
    let (sandbox_id, sandbox_name) = target();
    round_trip(
        "StopSandboxRequest",
        StopSandboxRequest {
            sandbox_id,
            sandbox_name,
        },
        s,
    );
    round_trip("StopSandboxResponse", StopSandboxResponse {}, s);
    let (sandbox_id, sandbox_name) = target();
    round_trip(
        "StartSandboxRequest",
        StartSandboxRequest {
            sandbox_id,
            sandbox_name,
        },
        s,
    );
    round_trip("StartSandboxResponse", StartSandboxResponse {}, s);
    let (sandbox_id, sandbox_name) = target();
    round_trip(
        "DeleteSandboxRequest",
        DeleteSandboxRequest {
            sandbox_id,
            sandbox_name,
        },
        s,
    );
    round_trip("DeleteSandboxResponse", DeleteSandboxResponse { deleted: true }, s);
    round_trip("WatchSandboxesRequest", WatchSandboxesRequest {}, s);
    let sandbox_event = WatchSandboxesSandboxEvent {
        sandbox: Some(full.clone()),
    };
    let deleted = WatchSandboxesDeletedEvent {
        sandbox_id: full.id.clone(),
    };
    let platform = WatchSandboxesPlatformEvent {
        sandbox_id: full.id.clone(),
        event: Some(platform_event()),
    };
    for payload in [
        Payload::Sandbox(sandbox_event.clone()),
        Payload::Deleted(deleted.clone()),
        Payload::PlatformEvent(platform.clone()),
    ] {
        round_trip("WatchSandboxesEvent", WatchSandboxesEvent { payload: Some(payload) }, s);
    }
    round_trip("WatchSandboxesSandboxEvent", sandbox_event, s);
    round_trip("WatchSandboxesDeletedEvent", deleted, s);
    round_trip("WatchSandboxesPlatformEvent", platform, s);
    let workspace = || "team-a".to_string();
    round_trip(
        "EnsureWorkspaceRequest",
        EnsureWorkspaceRequest { workspace: workspace() },
        s,
    );
    round_trip("EnsureWorkspaceResponse", EnsureWorkspaceResponse {}, s);
    round_trip(
        "DeleteWorkspaceRequest",
        DeleteWorkspaceRequest { workspace: workspace() },
        s,
    );
    round_trip("DeleteWorkspaceResponse", DeleteWorkspaceResponse {}, s);
    let (sandbox_id, sandbox_name) = target();
    round_trip(
        "ResolveSandboxEndpointRequest",
        ResolveSandboxEndpointRequest {
            sandbox_id,
            sandbox_name,
        },
        s,
    );
    round_trip(
        "ResolveSandboxEndpointResponse",
        ResolveSandboxEndpointResponse {
            pod_ips: vec!["10.0.0.1".into()],
            service_fqdn: "s.ns.svc".into(),
            node_name: "node-a".into(),
            route_host: "h.apps".into(),
            instance_id: "uid-1".into(),
        },
        s,
    );
    let seen: BTreeSet<String> = seen.into_iter().map(str::to_string).collect();
    assert_eq!(seen, declared_messages(), "every message of the proto has a round trip");
}

#[test]
fn canonical_json_is_lower_camel_case_with_struct_as_plain_json() {
    let json = to_json(&sandbox());
    assert_eq!(json["spec"]["resourceRequirements"]["gpu"]["count"], 2);
    assert_eq!(json["spec"]["template"]["platformConfig"]["expose"]["port"], 8888.0);
    assert_eq!(json["spec"]["sandboxToken"], "token");
    assert_eq!(
        json["status"]["conditions"][0]["lastTransitionTime"],
        "2026-01-01T00:00:00Z"
    );
    assert_eq!(
        to_json(&platform_event())["timestampMs"],
        "1767225600000",
        "int64 as a string"
    );
}

#[test]
fn requests_read_in_proto_names_or_lower_camel_case() {
    let snake = "name: demo\nspec:\n  resource_requirements: {gpu: {count: 2}}\n  sandbox_token: t\n  template:\n    image: x\n    platform_config: {expose: {port: 8888}}\n";
    let camel = r#"{"name": "demo", "spec": {"resourceRequirements": {"gpu": {"count": 2}}, "sandboxToken": "t",
                   "template": {"image": "x", "platformConfig": {"expose": {"port": 8888}}}}}"#;
    let a: DriverSandbox = from_text(snake).expect("snake_case");
    let b: DriverSandbox = from_text(camel).expect("lowerCamelCase");
    assert_eq!(a, b);
    let spec = a.spec.expect("spec");
    assert_eq!(
        spec.resource_requirements.and_then(|r| r.gpu).and_then(|g| g.count),
        Some(2)
    );
    let platform = spec.template.and_then(|t| t.platform_config).expect("platform_config");
    assert_eq!(struct_to_json(&platform), json!({"expose": {"port": 8888}}));
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let cases = [
        ("name: demo\nspek: {}\n", "spek:"),
        ("name: demo\nspec: {gpu: {count: 1}}\n", "spec.gpu:"),
        (
            "name: demo\nspec: {template: {image: x, imag: y}}\n",
            "spec.template.imag:",
        ),
        (
            "name: demo\nspec: {resource_requirements: {gpu: {cnt: 1}}}\n",
            "spec.resource_requirements.gpu.cnt:",
        ),
    ];
    for (text, path) in cases {
        let err = from_text::<DriverSandbox>(text).expect_err(text);
        assert!(err.starts_with(path), "{text:?}: {err}");
        assert!(err.contains("unknown field"), "{text:?}: {err}");
    }
    let err = from_text::<DriverSandbox>("name: [1]\n").expect_err("wrong type");
    assert!(err.starts_with("name"), "{err}");
}

#[test]
fn struct_json_round_trip() {
    let v = json!({"a": 1, "b": [true, "x", null], "c": {"d": 1.5}});
    let s = json_to_struct(&v).expect("object");
    assert_eq!(struct_to_json(&s), v);
}
