//! Rendering: a create request (plus config) becomes the Sandbox object and its token Secret.
//! Pure: no I/O, so every rule here is tested table by table and shown by `render`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, ResourceRequirements, Secret};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::{Deserialize, Serialize};

use crate::config::{DriverConfig, SandboxAuth};
use crate::error::DriverError;
use crate::grammar::{validate_label_key, validate_label_value, validate_quantity};
pub use crate::kubernetes::containers::{
    AGENT_CONTAINER, LAUNCHER_INIT_CONTAINER, SUPERVISOR_INIT_CONTAINER, sandbox_service_account, unprivileged,
};
use crate::kubernetes::containers::{agent_security_context, launched_supervisor, pod_defaults, supervised_agent};
use crate::kubernetes::expiry::effective_ttl;
use crate::kubernetes::identity::{SandboxIdentity, driver_labels, identity_of};
use crate::kubernetes::limits::{check_annotations_size, check_encoded_size, validate_image};
use crate::kubernetes::request_config::{PlatformConfig, RawResources, parse_driver_config, parse_platform_config};
use crate::kubernetes::request_rules::{check_environment, check_not_reserved};
use crate::kubernetes::sideload;
use crate::kubernetes::supervisor::{ContractInputs, SANDBOX_ID_ANNOTATION, supervisor_env, user_environment};
pub use crate::kubernetes::supervisor::{SUPERVISOR_FILE, SUPERVISOR_VOLUME, TOKEN_KEY};
pub use crate::kubernetes::volumes::supervisor_dir;
use crate::kubernetes::volumes::{PodParts, reserved_paths};
use crate::proto::DriverSandbox;

pub const SANDBOX_GROUP: &str = "agents.x-k8s.io";
pub const SANDBOX_KIND: &str = "Sandbox";
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Which served version of the Sandbox API the object is written for; they differ in how a
/// sandbox is suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxApiVersion {
    V1beta1,
    V1alpha1,
}

impl SandboxApiVersion {
    pub fn version(self) -> &'static str {
        match self {
            Self::V1beta1 => "v1beta1",
            Self::V1alpha1 => "v1alpha1",
        }
    }

    pub fn api_version(self) -> String {
        format!("{SANDBOX_GROUP}/{}", self.version())
    }

    /// The spec fragment that runs (`true`) or suspends (`false`) the sandbox.
    pub fn running_patch(self, running: bool) -> serde_json::Value {
        match self {
            Self::V1beta1 => {
                serde_json::json!({"spec": {"operatingMode": if running { "Running" } else { "Suspended" }}})
            }
            Self::V1alpha1 => serde_json::json!({"spec": {"replicas": i32::from(running)}}),
        }
    }
}

/// The `agents.x-k8s.io` Sandbox, with the fields this driver writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxManifest {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: SandboxSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxSpec {
    pub pod_template: PodTemplate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Asks the controller for a headless Service (set by enrichers that expose the sandbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<bool>,
    /// When the controller removes the pod (create + TTL), and what it does with this object then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdown_policy: Option<String>,
    /// The persistent workspace's claim (`--workspace-volume persistent`); immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_templates: Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaimTemplate>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodTemplate {
    pub metadata: PodMetadata,
    pub spec: PodSpec,
}

/// Only these labels and annotations reach the Pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl SandboxManifest {
    /// The agent container, which rendering always creates first.
    pub fn agent_container_mut(&mut self) -> Option<&mut Container> {
        self.spec
            .pod_template
            .spec
            .containers
            .iter_mut()
            .find(|c| c.name == AGENT_CONTAINER)
    }
}

/// What `render_sandbox` produces for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedSandbox {
    pub identity: SandboxIdentity,
    pub manifest: SandboxManifest,
    /// The Secret carrying the sandbox token; its owner reference is set once the Sandbox exists.
    pub token_secret: Option<Secret>,
    /// The time to live; `spec.shutdownTime` is stamped from it at create (`RenderedSandbox::stamp_expiry`).
    pub ttl: Option<std::time::Duration>,
    /// The gateway-only NetworkPolicy (`--gateway-ingress-only`), owned by the Sandbox once it exists.
    pub network_policy: Option<k8s_openapi::api::networking::v1::NetworkPolicy>,
}

impl RenderedSandbox {
    /// Sets `spec.shutdownTime` for a sandbox created at `now` (rendering itself has no clock).
    pub fn stamp_expiry(&mut self, now: k8s_openapi::jiff::Timestamp) -> Result<(), DriverError> {
        if let Some(ttl) = self.ttl {
            self.manifest.spec.shutdown_time = Some(crate::kubernetes::expiry::shutdown_time(now, ttl)?);
        }
        Ok(())
    }
}

/// Renders the Sandbox for `request`. `enricher_keys` are `platform_config` keys a platform
/// enricher handles (they are not rejected as unknown here).
pub fn render_sandbox(
    request: &DriverSandbox,
    config: &DriverConfig,
    api: SandboxApiVersion,
    enricher_keys: &[&str],
) -> Result<RenderedSandbox, DriverError> {
    let identity = identity_of(request, config)?;
    let spec = request.spec.clone().unwrap_or_default();
    let template = spec.template.clone().unwrap_or_default();
    let platform = parse_platform_config(template.platform_config.as_ref(), enricher_keys)?;
    let isolation = crate::kubernetes::isolation::isolation(&platform, config)?;
    check_not_reserved("platform_config.annotations", platform.annotations.keys())?;
    let reserved = reserved_paths(config);
    let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
    let driver_cfg = parse_driver_config(template.driver_config.as_ref(), &reserved)?;
    let ttl = effective_ttl(driver_cfg.ttl.as_ref(), config.default_ttl)?;
    let image = [template.image.as_str(), config.default_image.as_str()]
        .into_iter()
        .find(|i| !i.is_empty())
        .ok_or_else(|| DriverError::invalid("template.image is empty and the driver has no --default-image"))?
        .to_string();
    validate_image("template.image", &image)?;
    if spec.command.is_empty() {
        return Err(DriverError::invalid("spec.command must not be empty"));
    }
    let labels = merged_labels(&template.labels, &identity, &config.gateway_id)?;
    let token_file = config.sandbox_auth == SandboxAuth::TokenFile && !spec.sandbox_token.is_empty();
    let parts = PodParts {
        config,
        identity: &identity,
        volumes: &driver_cfg.volume_mounts,
        token_file,
    };
    let env = environment(&spec, &identity, config)?;
    let delivery = sideload::delivery(config, &unprivileged());
    let workspace = workspace_parts(&driver_cfg, config, &identity, &image, &delivery);
    let agent = Container {
        image: Some(image),
        command: Some(launched_supervisor(config, &delivery, &env)),
        env: Some(env),
        resources: Some(resources(&spec, &platform, driver_cfg.agent_resources.as_ref())?),
        security_context: Some(agent_security_context(&isolation)),
        volume_mounts: Some([delivery.mounts, parts.agent_mounts(), workspace.agent_mount].concat()),
        ..supervised_agent(config)
    };
    let init_containers = [delivery.init_containers, workspace.init_containers].concat();
    let mut pod_spec = PodSpec {
        init_containers: (!init_containers.is_empty()).then_some(init_containers),
        containers: vec![agent],
        volumes: Some([delivery.volumes, parts.volumes(), workspace.volumes].concat()),
        runtime_class_name: platform.runtime_class_name.clone(),
        node_selector: (!platform.node_selector.is_empty()).then(|| platform.node_selector.clone()),
        tolerations: (!platform.tolerations.is_empty()).then(|| platform.tolerations.clone()),
        host_users: isolation.host_users,
        host_aliases: crate::kubernetes::host_alias::host_aliases(config.host_gateway_ip),
        ..pod_defaults(config)
    };
    if config.topology.is_sidecar() {
        crate::kubernetes::topology::into_sidecar(&mut pod_spec, config, &delivery.supervisor, &delivery.launcher);
    }
    let mut pod_annotations = platform.annotations.clone();
    pod_annotations.insert(SANDBOX_ID_ANNOTATION.into(), identity.id.clone());
    check_annotations_size("platform_config.annotations", &pod_annotations)?;
    let manifest = SandboxManifest {
        api_version: api.api_version(),
        kind: SANDBOX_KIND.into(),
        metadata: ObjectMeta {
            name: Some(identity.object_name.clone()),
            namespace: Some(identity.namespace.clone()),
            labels: Some(labels.clone()),
            annotations: Some(identity_annotations(&identity)),
            ..Default::default()
        },
        spec: SandboxSpec {
            pod_template: PodTemplate {
                metadata: PodMetadata {
                    labels,
                    annotations: pod_annotations,
                },
                spec: pod_spec,
            },
            operating_mode: (api == SandboxApiVersion::V1beta1).then(|| "Running".to_string()),
            replicas: (api == SandboxApiVersion::V1alpha1).then_some(1),
            service: None,
            shutdown_time: None,
            shutdown_policy: ttl.map(|_| config.expiry_policy.as_k8s().to_string()),
            volume_claim_templates: workspace.claim_templates,
        },
    };
    check_encoded_size("Sandbox", &manifest, &spec)?;
    let token_secret = token_file.then(|| token_secret(&identity, &config.gateway_id, &spec.sandbox_token));
    if let Some(secret) = &token_secret {
        check_encoded_size("token Secret", secret, &spec)?;
    }
    let network_policy = config.ingress.network_policy(&identity, &config.gateway_id);
    Ok(RenderedSandbox {
        identity,
        manifest,
        token_secret,
        ttl,
        network_policy,
    })
}

/// The workspace's pieces, each a list so that "off" (the default) adds nothing.
#[derive(Default)]
struct WorkspacePieces {
    agent_mount: Vec<k8s_openapi::api::core::v1::VolumeMount>,
    init_containers: Vec<Container>,
    volumes: Vec<k8s_openapi::api::core::v1::Volume>,
    claim_templates: Option<Vec<k8s_openapi::api::core::v1::PersistentVolumeClaimTemplate>>,
}

fn workspace_parts(
    driver_cfg: &crate::kubernetes::request_config::DriverSpecificConfig,
    config: &DriverConfig,
    identity: &SandboxIdentity,
    image: &str,
    delivery: &sideload::Delivery,
) -> WorkspacePieces {
    use crate::kubernetes::workspace_volume::{SeedInputs, WorkspaceVolume, parts};
    let chosen = WorkspaceVolume::effective(
        &config.workspace_volume,
        driver_cfg.workspace.as_ref(),
        &driver_cfg.volume_mounts,
    );
    let seed = SeedInputs {
        image,
        launcher: &delivery.launcher,
        launcher_mounts: &delivery.mounts,
        pull_policy: crate::kubernetes::containers::pull_policy(config),
    };
    let labels = driver_labels(identity, &config.gateway_id);
    let Some(ws) = parts(&chosen, &labels, &seed) else {
        return WorkspacePieces::default();
    };
    WorkspacePieces {
        agent_mount: vec![ws.agent_mount],
        init_containers: vec![ws.seed],
        volumes: ws.volume.into_iter().collect(),
        claim_templates: ws.claim_template.map(|t| vec![t]),
    }
}

/// The ids mirrored as annotations, as upstream does, for tools that read annotations only.
fn identity_annotations(identity: &SandboxIdentity) -> BTreeMap<String, String> {
    use crate::kubernetes::identity::{LABEL_SANDBOX_ID, LABEL_SANDBOX_NAME, LABEL_WORKSPACE};
    BTreeMap::from([
        (LABEL_SANDBOX_ID.to_string(), identity.id.clone()),
        (LABEL_SANDBOX_NAME.to_string(), identity.name.clone()),
        (LABEL_WORKSPACE.to_string(), identity.workspace.clone()),
    ])
}

/// Template labels first, then the driver's, which win.
fn merged_labels(
    template: &std::collections::HashMap<String, String>,
    identity: &SandboxIdentity,
    gateway_id: &str,
) -> Result<BTreeMap<String, String>, DriverError> {
    check_not_reserved("template.labels", template.keys())?;
    let mut labels = BTreeMap::new();
    for (k, v) in template {
        validate_label_key("template.labels", k)?;
        validate_label_value("template.labels", k, v)?;
        labels.insert(k.clone(), v.clone());
    }
    labels.extend(driver_labels(identity, gateway_id));
    Ok(labels)
}

/// Template env, then spec env, then the supervisor contract's values, which win; sorted.
fn environment(
    spec: &crate::proto::DriverSandboxSpec,
    identity: &SandboxIdentity,
    config: &DriverConfig,
) -> Result<Vec<EnvVar>, DriverError> {
    let template = spec.template.clone().unwrap_or_default();
    for (field, source) in [
        ("template.environment", &template.environment),
        ("spec.environment", &spec.environment),
    ] {
        check_environment(field, source)?;
    }
    let mut env = user_environment(&template.environment, &spec.environment);
    env.extend(supervisor_env(&ContractInputs { identity, spec, config })?);
    Ok(env
        .into_iter()
        .map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            value_from: None,
        })
        .collect())
}

/// Typed cpu/memory, then `resources_raw`, then `driver_config.agent_resources`, then the GPU.
/// A missing request defaults to its limit; a request above its limit is rejected here rather
/// than by admission.
fn resources(
    spec: &crate::proto::DriverSandboxSpec,
    platform: &PlatformConfig,
    agent: Option<&RawResources>,
) -> Result<ResourceRequirements, DriverError> {
    let typed = spec
        .template
        .as_ref()
        .and_then(|t| t.resources.clone())
        .unwrap_or_default();
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (field, is_request, name, value) in [
        ("resources.cpu_request", true, "cpu", &typed.cpu_request),
        ("resources.memory_request", true, "memory", &typed.memory_request),
        ("resources.cpu_limit", false, "cpu", &typed.cpu_limit),
        ("resources.memory_limit", false, "memory", &typed.memory_limit),
    ] {
        if !value.is_empty() {
            validate_quantity(field, value)?;
            let map = if is_request { &mut requests } else { &mut limits };
            map.insert(name.to_string(), value.clone());
        }
    }
    for raw in [platform.resources_raw.as_ref(), agent].into_iter().flatten() {
        requests.extend(raw.requests.clone());
        limits.extend(raw.limits.clone());
    }
    if let Some(count) = requested_gpus(spec)? {
        limits.insert(GPU_RESOURCE.to_string(), count.to_string());
    }
    for (name, limit) in &limits {
        match requests.get(name) {
            None => {
                if name != GPU_RESOURCE {
                    requests.insert(name.clone(), limit.clone());
                }
            }
            Some(request) => {
                let (r, l) = (validate_quantity(name, request)?, validate_quantity(name, limit)?);
                if r > l {
                    return Err(DriverError::invalid(format!(
                        "resources: {name} request {request} is above its limit {limit}"
                    )));
                }
            }
        }
    }
    let to_q =
        |m: BTreeMap<String, String>| (!m.is_empty()).then(|| m.into_iter().map(|(k, v)| (k, Quantity(v))).collect());
    Ok(ResourceRequirements {
        requests: to_q(requests),
        limits: to_q(limits),
        ..Default::default()
    })
}

/// The GPUs `spec` asks for, if any. A GPU request without a count means one GPU; zero is a
/// mistake.
pub fn requested_gpus(spec: &crate::proto::DriverSandboxSpec) -> Result<Option<u32>, DriverError> {
    let Some(gpu) = spec.resource_requirements.as_ref().and_then(|r| r.gpu.as_ref()) else {
        return Ok(None);
    };
    match gpu.count {
        None => Ok(Some(1)),
        Some(0) => Err(DriverError::invalid(
            "resource_requirements.gpu.count must be at least 1",
        )),
        Some(n) => Ok(Some(n)),
    }
}

/// The Secret that carries the sandbox token. The token is its only data: it appears in no
/// label, annotation or env value.
fn token_secret(identity: &SandboxIdentity, gateway_id: &str, token: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(identity.token_secret_name()),
            namespace: Some(identity.namespace.clone()),
            labels: Some(driver_labels(identity, gateway_id)),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        string_data: Some(BTreeMap::from([(TOKEN_KEY.to_string(), token.to_string())])),
        immutable: Some(true),
        ..Default::default()
    }
}

/// The owner reference that makes the garbage collector delete `child` with the Sandbox.
pub fn owned_by_sandbox(api: SandboxApiVersion, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api.api_version(),
        kind: SANDBOX_KIND.into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(false),
        block_owner_deletion: Some(false),
    }
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
