//! A warm member and its bind, rendered. A member is the profile's pod, started with the
//! launcher waiting in front of the supervisor (`wait-identity`) and no sandbox identity; a
//! bind delivers that identity: the identity Secret (the per-sandbox variables), the token
//! Secret in token-file mode, and one patch of the member's Sandbox that gives it the sandbox's
//! labels and its pod the `openshell.io/sandbox-id` annotation. Pure.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    DownwardAPIProjection, DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, ProjectedVolumeSource, Secret,
    SecretProjection, Volume, VolumeMount, VolumeProjection,
};
use kube::api::ObjectMeta;

use super::key::{is_per_sandbox, pod_key};
use crate::config::DriverConfig;
use crate::config::warm_pool::PoolProfile;
use crate::error::DriverError;
use crate::kubernetes::identity::{LABEL_SANDBOX_ID, Ownership};
use crate::kubernetes::render::{
    RenderedSandbox, SandboxApiVersion, SandboxManifest, owned_by_sandbox, render_sandbox,
};
use crate::kubernetes::supervisor::{IDENTITY_VOLUME, SANDBOX_ID_ANNOTATION};
use crate::launcher;
use crate::proto::DriverSandbox;
use crate::warm_identity::{ENVIRONMENT_FILE, POD_SANDBOX_ID_FILE, SANDBOX_ID_FILE, encode_environment};

/// On a member: the key of the pod it runs (`key::pod_key`).
pub const LABEL_WARM_KEY: &str = "openshell.ai/warm-key";
/// On a member a bind has claimed (the first write of a bind, preconditioned on the member's
/// resourceVersion): the sandbox id. A member with it and without the sandbox's labels is a bind
/// left half made; it is never bound again.
pub const BIND_INTENT_ANNOTATION: &str = "openshell.ai/warm-bind-intent";
/// On a member: its profile's name.
pub const LABEL_WARM_PROFILE: &str = "openshell.ai/warm-profile";
pub const WARM_VOLUME: &str = "openshell-warm-identity";
pub const WARM_DIR: &str = "/var/run/openshell/warm";
/// The member's command until a bind: what a create's request would have said.
const MEMBER_COMMAND: &str = "openshell-warm-member";
/// Stands in for the gateway's token when the member is rendered, so token-file mode renders
/// the token volume; it is never written anywhere.
const PLACEHOLDER_TOKEN: &str = "warm-member";

/// A member as rendered: its Sandbox and the key a create must have to bind it.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmMember {
    pub key: String,
    pub manifest: SandboxManifest,
}

/// `warm-<key prefix>-<suffix>`: with a 5-character suffix, 19 characters, the longest a
/// sandbox name may be.
pub fn member_name_for(key: &str, suffix: &str) -> String {
    format!("warm-{}-{suffix}", &key[..8.min(key.len())])
}

pub fn identity_secret_name(member: &str) -> String {
    format!("{member}-identity")
}

fn token_secret_name(member: &str) -> String {
    format!("{member}-openshell-token")
}

/// The request a member of `profile` named `name` is rendered from (at most 19 characters:
/// the name doubles as the rendering's sandbox name and id).
pub fn member_request(profile: &PoolProfile, name: &str) -> DriverSandbox {
    let mut spec = profile.spec.clone();
    spec.command = vec![MEMBER_COMMAND.into()];
    spec.sandbox_token = PLACEHOLDER_TOKEN.into();
    DriverSandbox {
        id: name.into(),
        name: name.into(),
        workspace: profile.workspace.clone(),
        spec: Some(spec),
        ..Default::default()
    }
}

/// [`member_request`] rendered as a create would be, without a platform's enrichment.
pub fn render_member(
    profile: &PoolProfile,
    config: &DriverConfig,
    api: SandboxApiVersion,
    enricher_keys: &[&str],
    name: &str,
) -> Result<WarmMember, DriverError> {
    let rendered = render_sandbox(&member_request(profile, name), config, api, enricher_keys)?;
    into_member(rendered, profile, &config.gateway_id)
}

/// The member from its request's render (enriched like a create's, so the keys agree). Fails,
/// naming the profile, where its pod is not one a warm member can run.
pub fn into_member(
    rendered: RenderedSandbox,
    profile: &PoolProfile,
    gateway_id: &str,
) -> Result<WarmMember, DriverError> {
    let name = rendered.identity.id.clone();
    let name = name.as_str();
    let key = pod_key(&rendered.manifest).map_err(|why| {
        DriverError::invalid(format!(
            "warm pool profile {}: its pod cannot be pooled ({})",
            profile.name,
            why.reason()
        ))
    })?;
    let mut manifest = rendered.manifest;
    let mut labels = Ownership::new(gateway_id).labels();
    labels.insert(LABEL_WARM_KEY.into(), key.clone());
    labels.insert(LABEL_WARM_PROFILE.into(), profile.name.clone());
    manifest.metadata.name = Some(name.into());
    manifest.metadata.labels = Some(labels.clone());
    manifest.metadata.annotations = None;
    manifest.spec.pod_template.metadata.labels = labels;
    manifest
        .spec
        .pod_template
        .metadata
        .annotations
        .remove(SANDBOX_ID_ANNOTATION);
    // Its maximum age: the controller deletes it then (`stamp_max_age`).
    manifest.spec.shutdown_time = None;
    manifest.spec.shutdown_policy = Some("Delete".into());
    let pod = &mut manifest.spec.pod_template.spec;
    for volume in pod.volumes.iter_mut().flatten().filter(|v| v.name == IDENTITY_VOLUME) {
        if let Some(secret) = volume.secret.as_mut() {
            // Written at bind; the pod must start without it.
            secret.secret_name = Some(token_secret_name(name));
            secret.optional = Some(true);
        }
    }
    pod.volumes.get_or_insert_default().push(warm_volume(name));
    let agent = manifest
        .agent_container_mut()
        .ok_or_else(|| DriverError::Internal("the rendered pod has no agent container".into()))?;
    if let Some(env) = agent.env.as_mut() {
        env.retain(|e| !is_per_sandbox(&e.name));
    }
    let command = agent.command.get_or_insert_default();
    super::key::strip_kept_names(command);
    // The launcher first, then `wait-identity DIR` before its `--keep`.
    command.splice(1..1, [launcher::WAIT_IDENTITY.to_string(), WARM_DIR.to_string()]);
    agent.volume_mounts.get_or_insert_default().push(VolumeMount {
        name: WARM_VOLUME.into(),
        mount_path: WARM_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    });
    Ok(WarmMember { key, manifest })
}

/// The identity Secret (optional until the bind writes it) and the pod's own annotation.
fn warm_volume(member: &str) -> Volume {
    let secret_file = |key: &str| KeyToPath {
        key: key.into(),
        path: key.into(),
        mode: None,
    };
    Volume {
        name: WARM_VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o400),
            sources: Some(vec![
                VolumeProjection {
                    secret: Some(SecretProjection {
                        name: identity_secret_name(member),
                        optional: Some(true),
                        items: Some(vec![secret_file(SANDBOX_ID_FILE), secret_file(ENVIRONMENT_FILE)]),
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: POD_SANDBOX_ID_FILE.into(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: None,
                                field_path: format!("metadata.annotations['{SANDBOX_ID_ANNOTATION}']"),
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
        }),
        ..Default::default()
    }
}

/// The member a bind writes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundMember {
    pub api: SandboxApiVersion,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

/// What a bind writes after its claim (`claim_patch`): the Secrets (owned by the member, so
/// they go with it), then the patch, which the kubelet sees as the pod's new annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub identity_secret: Secret,
    pub token_secret: Option<Secret>,
    pub patch: serde_json::Value,
}

/// Binds `cold` (the create rendered as for a cold start, whose key matched) to `member`.
pub fn bind(cold: &RenderedSandbox, member: &BoundMember, gateway_id: &str) -> Bind {
    let owner = vec![owned_by_sandbox(member.api, &member.name, &member.uid)];
    let delivered: Vec<(&str, &str)> = cold
        .manifest
        .spec
        .pod_template
        .spec
        .containers
        .iter()
        .flat_map(|c| c.env.iter().flatten())
        .filter(|e| is_per_sandbox(&e.name))
        .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or_default()))
        .collect();
    let id = &cold.identity.id;
    let mut labels = Ownership::new(gateway_id).labels();
    labels.insert(LABEL_SANDBOX_ID.into(), id.clone());
    let identity_secret = Secret {
        metadata: ObjectMeta {
            name: Some(identity_secret_name(&member.name)),
            namespace: Some(cold.identity.namespace.clone()),
            labels: Some(labels),
            owner_references: Some(owner.clone()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (SANDBOX_ID_FILE.to_string(), ByteString(id.as_bytes().to_vec())),
            (ENVIRONMENT_FILE.to_string(), ByteString(encode_environment(delivered))),
        ])),
        immutable: Some(true),
        ..Default::default()
    };
    let token_secret = cold.token_secret.clone().map(|mut secret| {
        secret.metadata.name = Some(token_secret_name(&member.name));
        secret.metadata.owner_references = Some(owner);
        secret
    });
    Bind {
        identity_secret,
        token_secret,
        patch: bind_patch(cold),
    }
}

/// A bind's first write: the member is claimed for sandbox `id`, if it is still the version
/// the pool saw (409 otherwise: another bind, or the member changed). Only one bind of a
/// member gets past this; a claimed member is never handed out again.
pub fn claim_patch(member: &BoundMember, id: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "resourceVersion": member.resource_version,
            "annotations": {BIND_INTENT_ANNOTATION: id},
        },
    })
}

/// The member's Sandbox as the create's: its labels and annotations, its pod's, and its
/// expiry (a member's own is removed).
fn bind_patch(cold: &RenderedSandbox) -> serde_json::Value {
    let metadata = &cold.manifest.metadata;
    let template = &cold.manifest.spec.pod_template.metadata;
    serde_json::json!({
        "metadata": {
            "labels": metadata.labels,
            "annotations": metadata.annotations,
        },
        "spec": {
            "podTemplate": {"metadata": {"labels": template.labels, "annotations": template.annotations}},
            "shutdownTime": cold.manifest.spec.shutdown_time,
            "shutdownPolicy": cold.manifest.spec.shutdown_policy,
        },
    })
}

/// True for a member no sandbox has bound (List, Get and Watch never show it).
pub fn is_unbound(labels: &BTreeMap<String, String>) -> bool {
    labels.contains_key(LABEL_WARM_KEY) && !labels.contains_key(LABEL_SANDBOX_ID)
}

/// The member's maximum age as its Sandbox's shutdown time, from `now`.
pub fn stamp_max_age(
    member: &mut WarmMember,
    profile: &PoolProfile,
    now: k8s_openapi::jiff::Timestamp,
) -> Result<(), DriverError> {
    member.manifest.spec.shutdown_time = Some(crate::kubernetes::expiry::shutdown_time(now, profile.max_age)?);
    Ok(())
}
