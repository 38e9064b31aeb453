//! Tier 1: the workspace at `/sandbox`, table by table, through the whole render.

use crate::config::DriverConfig;
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion, render_sandbox};
use crate::kubernetes::workspace_volume::*;
use crate::proto::json::json_to_struct;
use crate::proto::{DriverSandbox, DriverSandboxSpec, DriverSandboxTemplate};

fn request(driver_config: Option<serde_json::Value>) -> DriverSandbox {
    DriverSandbox {
        id: "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01".into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/sh".into()],
            template: Some(DriverSandboxTemplate {
                image: "quay.io/example/agent:1".into(),
                driver_config: driver_config.map(|v| json_to_struct(&v).expect("a JSON object")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// (flags, driver_config, then what is expected).
type Case<T> = (&'static [&'static str], Option<serde_json::Value>, T);

fn render_with(args: &[&str], driver_config: Option<serde_json::Value>) -> Result<RenderedSandbox, String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        workspace: WorkspaceVolumeConfig,
    }
    let flags =
        Flags::try_parse_from(std::iter::once("driver").chain(args.iter().copied())).map_err(|e| e.to_string())?;
    let mut config = DriverConfig::defaults();
    config.workspace_volume = flags.workspace;
    render_sandbox(&request(driver_config), &config, SandboxApiVersion::V1beta1, &[]).map_err(|e| e.to_string())
}

fn agent_mounts_sandbox(r: &RenderedSandbox) -> bool {
    let pod = &r.manifest.spec.pod_template.spec;
    pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .any(|m| m.name == WORKSPACE_VOLUME && m.mount_path == "/sandbox" && m.read_only == Some(false))
}

fn seed(r: &RenderedSandbox) -> Option<&k8s_openapi::api::core::v1::Container> {
    let pod = &r.manifest.spec.pod_template.spec;
    pod.init_containers
        .iter()
        .flatten()
        .find(|c| c.name == WORKSPACE_INIT_CONTAINER)
}

fn pod_has_empty_dir(r: &RenderedSandbox) -> bool {
    let pod = &r.manifest.spec.pod_template.spec;
    pod.volumes
        .iter()
        .flatten()
        .any(|v| v.name == WORKSPACE_VOLUME && v.empty_dir.is_some())
}

#[test]
fn each_mode_renders_its_own_workspace() {
    // (flags, driver_config, (claim template, emptyDir, mount + seed))
    let cases: [Case<(bool, bool, bool)>; 6] = [
        (&[], None, (true, false, true)),
        (&["--workspace-volume", "ephemeral"], None, (false, true, true)),
        (&["--workspace-volume", "off"], None, (false, false, false)),
        (
            &[],
            Some(serde_json::json!({"workspace": {"mode": "off"}})),
            (false, false, false),
        ),
        (
            &["--workspace-volume", "off"],
            Some(serde_json::json!({"workspace": {"mode": "persistent"}})),
            (true, false, true),
        ),
        // A request mount at /sandbox is the workspace: none is added (as upstream).
        (
            &[],
            Some(serde_json::json!({"volume_mounts": [{"claim_name": "mine", "mount_path": "/sandbox"}]})),
            (false, false, false),
        ),
    ];
    for (args, driver_config, (claim, empty_dir, mounted)) in cases {
        let case = format!("{args:?} {driver_config:?}");
        let r = render_with(args, driver_config).expect(&case);
        assert_eq!(r.manifest.spec.volume_claim_templates.is_some(), claim, "{case}");
        assert_eq!(pod_has_empty_dir(&r), empty_dir, "{case}");
        assert_eq!(agent_mounts_sandbox(&r), mounted, "{case}");
        assert_eq!(seed(&r).is_some(), mounted, "{case}");
    }
}

#[test]
fn the_claim_takes_size_class_and_access_mode_from_flags_then_driver_config() {
    let cases: [Case<(&str, Option<&str>, &str)>; 3] = [
        (&[], None, ("2Gi", None, "ReadWriteOnce")),
        (
            &[
                "--workspace-size",
                "10Gi",
                "--workspace-storage-class",
                "fast-ssd",
                "--workspace-access-mode",
                "ReadWriteOncePod",
            ],
            None,
            ("10Gi", Some("fast-ssd"), "ReadWriteOncePod"),
        ),
        (
            &["--workspace-size", "10Gi", "--workspace-storage-class", "fast-ssd"],
            Some(
                serde_json::json!({"workspace": {"size": "500Mi", "storage_class": "slow", "access_mode": "ReadWriteMany"}}),
            ),
            ("500Mi", Some("slow"), "ReadWriteMany"),
        ),
    ];
    for (args, driver_config, (size, class, access)) in cases {
        let r = render_with(args, driver_config).expect("renders");
        let templates = r.manifest.spec.volume_claim_templates.expect("a claim");
        let spec = &templates[0].spec;
        let requests = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .expect("requests");
        assert_eq!(requests["storage"].0, size);
        assert_eq!(spec.storage_class_name.as_deref(), class);
        assert_eq!(spec.access_modes.clone().unwrap_or_default(), vec![access.to_string()]);
        let meta = templates[0].metadata.as_ref().expect("metadata");
        assert_eq!(meta.name.as_deref(), Some(WORKSPACE_VOLUME));
        // The claim carries the sandbox's labels, so deletion and lookups find it.
        let labels = meta.labels.clone().unwrap_or_default();
        assert_eq!(
            labels.get("openshell.ai/sandbox-id").map(String::as_str),
            Some("0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01")
        );
    }
}

#[test]
fn bad_workspace_values_are_refused_naming_the_flag_or_key() {
    for (args, driver_config, needle) in [
        (&["--workspace-size", "0"][..], None, "--workspace-size"),
        (&["--workspace-size", "lots"][..], None, "--workspace-size"),
        (
            &["--workspace-storage-class", "Fast_SSD"][..],
            None,
            "--workspace-storage-class",
        ),
        (&["--workspace-access-mode", "rwo"][..], None, "--workspace-access-mode"),
        (&["--workspace-volume", "pvc"][..], None, "--workspace-volume"),
        (
            &[][..],
            Some(serde_json::json!({"workspace": {"size": "-1Gi"}})),
            "driver_config.workspace.size",
        ),
        (
            &[][..],
            Some(serde_json::json!({"workspace": {"storage_class": "No Spaces"}})),
            "driver_config.workspace.storage_class",
        ),
        (
            &[][..],
            Some(serde_json::json!({"workspace": {"mode": "pvc"}})),
            "driver_config",
        ),
        (
            &[][..],
            Some(serde_json::json!({"workspace": {"retain": true}})),
            "retain",
        ),
    ] {
        let err = render_with(args, driver_config.clone()).expect_err(needle);
        assert!(err.contains(needle), "{args:?} {driver_config:?}: {err}");
    }
}

#[test]
fn the_seed_runs_the_launcher_in_the_agent_image_with_only_drops() {
    let r = render_with(&[], None).expect("renders");
    let seed = seed(&r).expect("seed container");
    assert_eq!(seed.image.as_deref(), Some("quay.io/example/agent:1"));
    let command = seed.command.clone().unwrap_or_default();
    assert!(command[0].ends_with("/openshell-launcher"), "{command:?}");
    assert_eq!(&command[1..], ["seed-workspace", "/sandbox", SEED_DIR]);
    let mounts = seed.volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == WORKSPACE_VOLUME && m.mount_path == SEED_DIR)
    );
    // The launcher's own volume is read-only here too: the agent image cannot replace it.
    assert!(
        mounts
            .iter()
            .filter(|m| m.name != WORKSPACE_VOLUME)
            .all(|m| m.read_only == Some(true))
    );
    let security = seed.security_context.clone().expect("security context");
    let caps = security.capabilities.expect("capabilities");
    assert!(caps.add.is_none(), "an SCC without added capabilities must admit it");
    assert!(caps.drop.unwrap_or_default().contains(&"SETUID".to_string()));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    // After the supervisor's delivery, which it needs for the launcher.
    let pod = &r.manifest.spec.pod_template.spec;
    assert_eq!(
        pod.init_containers.iter().flatten().last().map(|c| c.name.as_str()),
        Some(WORKSPACE_INIT_CONTAINER)
    );
}

#[test]
fn the_claim_name_is_the_controllers() {
    // sandbox_controller.go, reconcilePVCs: `<template name>-<sandbox name>`.
    assert_eq!(claim_name("team--dev"), "workspace-team--dev");
}

fn claim(owners: &[(&str, &str)]) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
    ObjectMeta {
        name: Some("workspace-team--dev".into()),
        resource_version: Some("42".into()),
        owner_references: Some(
            owners
                .iter()
                .map(|(kind, uid)| OwnerReference {
                    kind: kind.to_string(),
                    uid: uid.to_string(),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

#[test]
fn only_a_claim_no_sandbox_owns_blocks_a_create() {
    for (owners, blocks) in [
        (&[][..], true),
        (&[("ConfigMap", "u1")][..], true),
        (&[("Sandbox", "u1")][..], false),
    ] {
        assert_eq!(kept_claim_blocks(&claim(owners), "Sandbox"), blocks, "{owners:?}");
    }
}

#[test]
fn release_drops_the_owner_and_tracking_label_and_names_the_sandbox() {
    let patch = release_patch(&claim(&[("Sandbox", "u1"), ("Other", "u2")]), "u1", "id-1").expect("ours");
    let meta = &patch["metadata"];
    assert_eq!(meta["resourceVersion"], "42", "preconditioned");
    let owners = meta["ownerReferences"].as_array().expect("owners");
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0]["uid"], "u2");
    assert!(meta["labels"][NAME_HASH_LABEL].is_null());
    assert_eq!(meta["labels"][RETAINED_LABEL], "id-1");
    // Another Sandbox's claim (same name, other uid) is left alone.
    assert!(release_patch(&claim(&[("Sandbox", "u9")]), "u1", "id-1").is_none());
}
