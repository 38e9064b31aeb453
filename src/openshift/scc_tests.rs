//! Tier 1: the tests of `scc`.

use super::*;

use k8s_openapi::api::core::v1::PodSpec;
use serde_json::json;

use crate::config::{DriverConfig, ExposeAuth, RouteTls};
use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
use crate::kubernetes::sideload::SupervisorSideload;
use crate::openshift::expose::{EXPOSE_KEY, Exposure};
use crate::openshift::pod::{SelinuxChoice, plan};
use crate::proto::{DriverSandbox, DriverSandboxSpec, DriverSandboxTemplate};

const CAPS: [&str; 4] = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"];

fn pod_of(config: &DriverConfig) -> PodSpec {
    let request = DriverSandbox {
        id: "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01".into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/sh".into()],
            template: Some(DriverSandboxTemplate {
                image: "quay.io/example/agent:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let rendered = render_sandbox(&request, config, SandboxApiVersion::V1beta1, &[EXPOSE_KEY]).expect("renders");
    rendered.manifest.spec.pod_template.spec
}

fn plan_with_auth(config: &DriverConfig) -> OpenShiftPlan {
    let exposure = Exposure {
        port: 80,
        tls: RouteTls::Reencrypt,
        host: None,
        auth: ExposeAuth::Openshift,
    };
    plan(config, "", &Default::default(), None, Some(exposure))
}

#[test]
fn a_pod_with_the_spiffe_socket_needs_csi_volumes() {
    let plain = plan(&DriverConfig::defaults(), "", &Default::default(), None, None);
    let base = json!({
        "allowedCapabilities": CAPS,
        "runAsUser": {"type": "RunAsAny"},
        "seLinuxContext": {"type": "MustRunAs"},
        "volumes": ["emptyDir", "secret", "projected", "image"],
    });
    let mut with_csi = base.clone();
    with_csi["volumes"] = json!(["csi", "emptyDir", "secret", "projected", "image"]);
    let mut config = DriverConfig::defaults();
    assert!(!volume_types(&pod_of(&config)).contains("csi"));
    config.spiffe.provider_spiffe_socket = "/spiffe-workload-api/spire-agent.sock".into();
    let types = volume_types(&pod_of(&config));
    assert!(types.contains("csi"), "{types:?}");
    let problems = scc_problems(&base, &plain, &CAPS, &types);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("csi"), "{problems:?}");
    assert_eq!(scc_problems(&with_csi, &plain, &CAPS, &types), Vec::<String>::new());
}

#[test]
fn the_grant_binds_the_cluster_role_to_the_service_account_in_its_namespace() {
    let binding = scc_grant("ws-a", "default", "openshell-sandbox-scc", BTreeMap::new());
    assert_eq!(binding.metadata.namespace.as_deref(), Some("ws-a"));
    assert_eq!(
        (binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()),
        ("ClusterRole", "openshell-sandbox-scc")
    );
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", "default", Some("ws-a"))
    );
}

#[test]
fn the_shipped_scc_admits_sandbox_pods() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/openshift/scc.yaml");
    let text = std::fs::read_to_string(path).expect("deploy/openshift/scc.yaml");
    let with_auth = plan_with_auth(&DriverConfig::defaults());
    use serde::Deserialize;
    let scc = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_json::Value::deserialize(d).expect("yaml"))
        .find(|d| d["kind"] == "SecurityContextConstraints")
        .expect("an SCC");
    // Every delivery, with and without the SPIFFE socket's CSI volume.
    for sideload in [SupervisorSideload::ImageVolume, SupervisorSideload::InitContainer] {
        for spiffe in ["", "/spiffe-workload-api/spire-agent.sock"] {
            let mut config = DriverConfig {
                supervisor_sideload: sideload,
                ..DriverConfig::defaults()
            };
            config.spiffe.provider_spiffe_socket = spiffe.into();
            let problems = scc_problems(&scc, &with_auth, &CAPS, &volume_types(&pod_of(&config)));
            assert_eq!(problems, Vec::<String>::new(), "{sideload:?} {spiffe:?}");
        }
    }
    // Exactly what the agent needs, nothing that breaks out of the pod.
    assert_eq!(scc["allowPrivilegedContainer"], false);
    for host in [
        "allowHostDirVolumePlugin",
        "allowHostIPC",
        "allowHostNetwork",
        "allowHostPID",
        "allowHostPorts",
    ] {
        assert_eq!(scc[host], false, "{host}");
    }
    assert_eq!(scc["allowedCapabilities"], json!(CAPS));
    let volumes: Vec<&str> = scc["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(!volumes.contains(&"hostPath") && !volumes.contains(&"*"), "{volumes:?}");
}

fn scc(overrides: serde_json::Value) -> serde_json::Value {
    let mut base = json!({
        "allowedCapabilities": ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"],
        "requiredDropCapabilities": [],
        "runAsUser": {"type": "RunAsAny"},
        "seLinuxContext": {"type": "MustRunAs"},
        "volumes": ["emptyDir", "secret", "projected", "persistentVolumeClaim"],
    });
    for (k, v) in overrides.as_object().expect("object") {
        base[k] = v.clone();
    }
    base
}

#[test]
fn scc_admission_preflight() {
    let caps = CAPS;
    let config = DriverConfig::defaults();
    let plain = plan(&config, "", &Default::default(), None, None);
    let typed = plan(
        &config,
        "",
        &Default::default(),
        Some(&SelinuxChoice {
            type_name: "openshell_agent_t".into(),
            node_label: None,
        }),
        None,
    );
    let with_auth = plan_with_auth(&config);
    let cases = [
        ("ours", scc(json!({})), &plain, vec![]),
        (
            "wildcards",
            scc(json!({"allowedCapabilities": ["*"], "volumes": ["*"]})),
            &plain,
            vec![],
        ),
        (
            "restricted",
            scc(json!({"allowedCapabilities": null, "runAsUser": {"type": "MustRunAsRange"}})),
            &plain,
            vec![
                "does not allow SYS_ADMIN",
                "does not allow NET_ADMIN",
                "does not allow SYS_PTRACE",
                "does not allow SYSLOG",
                "runAsUser",
            ],
        ),
        (
            "drops all",
            scc(json!({"requiredDropCapabilities": ["ALL"]})),
            &plain,
            vec!["drops SYS_ADMIN", "drops NET_ADMIN", "drops SYS_PTRACE", "drops SYSLOG"],
        ),
        (
            "no projected",
            scc(json!({"volumes": ["emptyDir", "secret"]})),
            &with_auth,
            vec!["projected"],
        ),
        ("type but MustRunAs", scc(json!({})), &typed, vec!["openshell_agent_t"]),
        (
            "type fixed",
            scc(json!({"seLinuxContext": {"type": "MustRunAs", "seLinuxOptions": {"type": "openshell_agent_t"}}})),
            &typed,
            vec![],
        ),
        (
            "type any",
            scc(json!({"seLinuxContext": {"type": "RunAsAny"}})),
            &typed,
            vec![],
        ),
    ];
    let plain_volumes = volumes(&["emptyDir", "secret"]);
    for (what, scc, plan, expected) in cases {
        let problems = scc_problems(&scc, plan, &caps, &plain_volumes);
        assert_eq!(problems.len(), expected.len(), "{what}: {problems:?}");
        for (problem, needle) in problems.iter().zip(expected) {
            assert!(problem.contains(needle), "{what}: {problem} lacks {needle}");
        }
    }
}

fn volumes(types: &[&str]) -> std::collections::BTreeSet<String> {
    types.iter().map(|t| t.to_string()).collect()
}

#[test]
fn the_pods_own_volume_types_are_what_the_scc_must_allow() {
    let caps = CAPS;
    let config = DriverConfig::defaults();
    let plain = plan(&config, "", &Default::default(), None, None);
    let no_image = scc(json!({"volumes": ["emptyDir", "secret", "projected"]}));
    let cases = [
        (SupervisorSideload::ImageVolume, vec!["image"]),
        (SupervisorSideload::InitContainer, vec![]),
    ];
    for (sideload, expected) in cases {
        let config = DriverConfig {
            supervisor_sideload: sideload,
            ..DriverConfig::defaults()
        };
        let pod = pod_of(&config);
        let types = volume_types(&pod);
        assert!(types.contains("emptyDir"), "{sideload:?}: {types:?}");
        assert_eq!(
            types.contains("image"),
            sideload == SupervisorSideload::ImageVolume,
            "{types:?}"
        );
        let problems = scc_problems(&no_image, &plain, &caps, &types);
        assert_eq!(problems.len(), expected.len(), "{sideload:?}: {problems:?}");
        for (problem, needle) in problems.iter().zip(expected) {
            assert!(problem.contains(needle), "{problem} lacks {needle}");
        }
    }
}
