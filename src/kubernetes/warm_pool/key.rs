//! Which pod a create needs, as a key: the rendered pod with everything a bind can still
//! deliver taken out (the per-sandbox variables, the names derived from the sandbox). A create
//! and a warm member with the same key run the same pod. Pure.

use std::hash::Hasher;

use k8s_openapi::api::core::v1::PodSpec;

use crate::kubernetes::containers::AGENT_CONTAINER;
use crate::kubernetes::render::SandboxManifest;
use crate::kubernetes::supervisor::{IDENTITY_VOLUME, var};
use crate::launcher;

/// The supervisor settings that name or describe one sandbox; the user's own variables (any
/// name outside `OPENSHELL_`) are per sandbox too.
pub const PER_SANDBOX_VARS: [&str; 5] = [
    var::SANDBOX_ID,
    var::SANDBOX,
    var::MAIN_PROCESS_SPEC,
    var::LOG_LEVEL,
    var::USER_ENVIRONMENT,
];

pub fn is_per_sandbox(name: &str) -> bool {
    !name.starts_with(launcher::SUPERVISOR_PREFIX) || PER_SANDBOX_VARS.contains(&name)
}

/// Why a create cannot be served by a warm member (the miss metric's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unpoolable {
    /// Its claim would be the member's, named after the member, not after the sandbox.
    PersistentWorkspace,
    /// More than the agent container (an exposed port's proxy, the sidecar topology).
    ExtraContainers,
}

impl Unpoolable {
    pub fn reason(self) -> &'static str {
        match self {
            Self::PersistentWorkspace => "persistent_workspace",
            Self::ExtraContainers => "extra_containers",
        }
    }
}

/// The key of the pod `manifest` would run in `namespace`.
pub fn pod_key(manifest: &SandboxManifest) -> Result<String, Unpoolable> {
    if manifest
        .spec
        .volume_claim_templates
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        return Err(Unpoolable::PersistentWorkspace);
    }
    let mut pod = manifest.spec.pod_template.spec.clone();
    if pod.containers.len() != 1 {
        return Err(Unpoolable::ExtraContainers);
    }
    shared_form(&mut pod);
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(manifest.metadata.namespace.as_deref().unwrap_or_default().as_bytes());
    hasher.write(&[0]);
    // Serialization of a PodSpec is deterministic: struct fields in order, maps as BTreeMaps.
    hasher.write(&serde_json::to_vec(&pod).unwrap_or_default());
    Ok(format!("{:016x}", hasher.finish()))
}

/// `pod` without what differs from one sandbox to the next: the per-sandbox variables (and
/// their names in the launcher's `--keep` list) and the token Secret's name.
pub fn shared_form(pod: &mut PodSpec) {
    for container in pod.containers.iter_mut().filter(|c| c.name == AGENT_CONTAINER) {
        if let Some(env) = container.env.as_mut() {
            env.retain(|e| !is_per_sandbox(&e.name));
        }
        if let Some(command) = container.command.as_mut() {
            strip_kept_names(command);
        }
    }
    for volume in pod.volumes.iter_mut().flatten().filter(|v| v.name == IDENTITY_VOLUME) {
        if let Some(secret) = volume.secret.as_mut() {
            secret.secret_name = None;
            secret.optional = None;
        }
    }
}

pub(super) fn strip_kept_names(command: &mut [String]) {
    let Some(at) = command.iter().position(|a| a == launcher::KEEP_FLAG) else {
        return;
    };
    if let Some(list) = command.get_mut(at + 1) {
        *list = list
            .split(',')
            .filter(|name| !is_per_sandbox(name))
            .collect::<Vec<_>>()
            .join(",");
    }
}
