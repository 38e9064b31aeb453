//! The key, a member and a bind, against the cold render of the same create.

use std::collections::HashMap;

use super::key::*;
use super::member::*;
use crate::config::warm_pool::parse_profiles;
use crate::config::workspace_volume::WorkspaceVolumeMode;
use crate::config::{DriverConfig, SandboxAuth};
use crate::kubernetes::identity::LABEL_SANDBOX_ID;
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion, render_sandbox};
use crate::kubernetes::supervisor::{IDENTITY_VOLUME, SANDBOX_ID_ANNOTATION, var};
use crate::proto::*;
use crate::warm_identity::{ENVIRONMENT_FILE, SANDBOX_ID_FILE, decode_environment};

const ID: &str = "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01";
const PROFILE: &str =
    "profiles:\n  - {name: py, size: 2, template: {image: 'quay.io/example/py:3', resources: {cpuRequest: 500m}}}\n";

fn config(auth: SandboxAuth) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.gateway_id = "gw-test".into();
    c.gateway_endpoint = "https://gateway.openshell-system.svc:8443".into();
    c.client_tls_secret = "openshell-client-tls".into();
    c.sandbox_auth = auth;
    c.workspace_volume.mode = WorkspaceVolumeMode::Ephemeral;
    c
}

/// A create as the gateway sends it, on the profile's image and resources unless changed.
fn create(change: impl FnOnce(&mut DriverSandboxTemplate)) -> DriverSandbox {
    let mut template = DriverSandboxTemplate {
        image: "quay.io/example/py:3".into(),
        labels: HashMap::from([("team".into(), "ml".into())]),
        environment: HashMap::from([("FROM_TEMPLATE".into(), "t".into())]),
        resources: Some(DriverResourceRequirements {
            cpu_request: "500m".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    change(&mut template);
    DriverSandbox {
        id: ID.into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["python".into(), "agent.py".into()],
            log_level: "debug".into(),
            environment: HashMap::from([("API_URL".into(), "https://api".into())]),
            sandbox_token: "eyJ.secret.sig".into(),
            template: Some(template),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cold(request: &DriverSandbox, config: &DriverConfig) -> RenderedSandbox {
    render_sandbox(request, config, SandboxApiVersion::V1beta1, &[]).expect("renders")
}

fn member(config: &DriverConfig) -> WarmMember {
    let profiles = parse_profiles(PROFILE).expect("profile");
    render_member(
        &profiles[0],
        config,
        SandboxApiVersion::V1beta1,
        &[],
        "warm-abcdef12-x7k2q",
    )
    .expect("member")
}

#[test]
fn a_create_on_the_profiles_pod_has_the_members_key_whatever_its_own_details() {
    for auth in [SandboxAuth::ServiceAccount, SandboxAuth::TokenFile] {
        let config = config(auth);
        let key = pod_key(&cold(&create(|_| {}), &config).manifest).expect("poolable");
        assert_eq!(member(&config).key, key, "{auth:?}");
        let mut other = create(|_| {});
        other.name = "other".into();
        other.id = "1b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e02".into();
        assert_eq!(
            pod_key(&cold(&other, &config).manifest),
            Ok(key),
            "names and ids are bound late"
        );
    }
}

#[test]
fn what_the_pod_cannot_change_once_started_changes_the_key() {
    let config = config(SandboxAuth::ServiceAccount);
    let key = member(&config).key;
    type Change = fn(&mut DriverSandboxTemplate);
    let cases: &[(&str, Change)] = &[
        ("another image", |t| t.image = "quay.io/example/py:4".into()),
        ("more cpu", |t| t.resources = None),
        ("a runtime class", |t| {
            t.platform_config = crate::proto::json::json_to_struct(&serde_json::json!({"runtime_class_name": "kata"}))
        }),
    ];
    for (what, change) in cases {
        let other = pod_key(&cold(&create(change), &config).manifest).expect("poolable");
        assert_ne!(other, key, "{what}");
    }
}

#[test]
fn a_persistent_workspace_is_not_pooled() {
    let mut config = config(SandboxAuth::ServiceAccount);
    config.workspace_volume.mode = WorkspaceVolumeMode::Persistent;
    assert_eq!(
        pod_key(&cold(&create(|_| {}), &config).manifest),
        Err(Unpoolable::PersistentWorkspace)
    );
    let profiles = parse_profiles(PROFILE).expect("profile");
    let err = render_member(&profiles[0], &config, SandboxApiVersion::V1beta1, &[], "warm-a").expect_err("refused");
    assert!(err.to_string().contains("persistent_workspace"), "{err}");
}

#[test]
fn a_member_has_no_sandbox_identity_and_waits_for_one() {
    let config = config(SandboxAuth::TokenFile);
    let m = member(&config);
    let labels = m.manifest.metadata.labels.clone().unwrap_or_default();
    assert!(is_unbound(&labels), "{labels:?}");
    assert_eq!(labels.get(LABEL_WARM_PROFILE).map(String::as_str), Some("py"));
    assert_eq!(m.manifest.metadata.name.as_deref(), Some("warm-abcdef12-x7k2q"));
    let template = &m.manifest.spec.pod_template;
    assert!(!template.metadata.annotations.contains_key(SANDBOX_ID_ANNOTATION));
    assert!(!template.metadata.labels.contains_key(LABEL_SANDBOX_ID));
    let agent = &template.spec.containers[0];
    let env: Vec<&str> = agent.env.iter().flatten().map(|e| e.name.as_str()).collect();
    for name in PER_SANDBOX_VARS {
        assert!(!env.contains(&name), "{name} is bound late: {env:?}");
    }
    assert!(
        env.contains(&var::ENDPOINT) && env.contains(&var::SANDBOX_TOKEN_FILE),
        "{env:?}"
    );
    let command = agent.command.clone().unwrap_or_default();
    assert_eq!(command[1..3], [crate::launcher::WAIT_IDENTITY, WARM_DIR]);
    let keep = &command[command.iter().position(|a| a == "--keep").expect("--keep") + 1];
    assert!(
        !keep.contains(var::SANDBOX_ID) && keep.contains(var::ENDPOINT),
        "{keep}"
    );
    let volumes = template.spec.volumes.clone().unwrap_or_default();
    let token = volumes
        .iter()
        .find(|v| v.name == IDENTITY_VOLUME)
        .and_then(|v| v.secret.clone());
    let token = token.expect("the token volume");
    assert_eq!(
        (token.secret_name.as_deref(), token.optional),
        (Some("warm-abcdef12-x7k2q-openshell-token"), Some(true))
    );
    let warm = volumes
        .iter()
        .find(|v| v.name == WARM_VOLUME)
        .and_then(|v| v.projected.clone());
    assert!(warm.is_some(), "{volumes:?}");
    assert!(agent.volume_mounts.iter().flatten().any(|m| m.mount_path == WARM_DIR));
}

#[test]
fn a_bind_delivers_exactly_the_per_sandbox_variables_and_the_create_s_labels() {
    let config = config(SandboxAuth::TokenFile);
    let cold = cold(&create(|_| {}), &config);
    let target = BoundMember {
        api: SandboxApiVersion::V1beta1,
        name: "warm-abcdef12-x7k2q".into(),
        uid: "uid-1".into(),
        resource_version: "42".into(),
    };
    let bind = bind(&cold, &target, &config.gateway_id);
    let data = bind.identity_secret.data.clone().unwrap_or_default();
    assert_eq!(data[SANDBOX_ID_FILE].0, ID.as_bytes());
    let env = decode_environment(&data[ENVIRONMENT_FILE].0).expect("decodes");
    let names: Vec<String> = env.iter().map(|(n, _)| n.to_string_lossy().into_owned()).collect();
    for name in [
        var::SANDBOX_ID,
        var::SANDBOX,
        var::MAIN_PROCESS_SPEC,
        var::LOG_LEVEL,
        var::USER_ENVIRONMENT,
        "API_URL",
        "FROM_TEMPLATE",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
    assert!(!names.iter().any(|n| n == var::ENDPOINT), "the member has it already");
    let owner = &bind
        .identity_secret
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()[0];
    assert_eq!(
        (owner.name.as_str(), owner.uid.as_str()),
        ("warm-abcdef12-x7k2q", "uid-1")
    );
    let token = bind.token_secret.expect("token-file mode");
    assert_eq!(
        token.metadata.name.as_deref(),
        Some("warm-abcdef12-x7k2q-openshell-token")
    );
    let patch = &bind.patch;
    assert!(
        patch["metadata"].get("resourceVersion").is_none(),
        "the claim was the lock"
    );
    let claim = claim_patch(&target, ID);
    assert_eq!(
        claim["metadata"]["resourceVersion"], "42",
        "one claim per member version"
    );
    assert_eq!(
        claim["metadata"]["annotations"][super::pool::BIND_INTENT_ANNOTATION],
        ID
    );
    assert_eq!(patch["metadata"]["labels"][LABEL_SANDBOX_ID], ID);
    assert_eq!(
        patch["spec"]["podTemplate"]["metadata"]["annotations"][SANDBOX_ID_ANNOTATION],
        ID
    );
    assert_eq!(patch["spec"]["podTemplate"]["metadata"]["labels"]["team"], "ml");
    let text = serde_json::to_string(patch).expect("json");
    assert!(!text.contains("eyJ.secret.sig"), "the token never in the patch");
}
