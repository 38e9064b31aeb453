//! The agent's `/sandbox`: a claim from the Sandbox's own `volumeClaimTemplates` (the
//! agent-sandbox controller makes the claim `workspace-<sandbox>` and the pod's volume of that
//! name), or an emptyDir. Either is seeded from the image's own `/sandbox` by the launcher in an
//! init container, which needs no shell in the image. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, PersistentVolumeClaimSpec, PersistentVolumeClaimTemplate, SecurityContext, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use crate::config::workspace_volume::{AccessMode, WorkspaceVolumeConfig, WorkspaceVolumeMode};
use crate::kubernetes::mounts::{empty_dir, mount};
use crate::kubernetes::request_config::{VolumeMountConfig, WorkspaceOverride};
use crate::kubernetes::supervisor::WORKDIR;
use crate::launcher;

/// The volume (and the claim template) backing `/sandbox`: upstream's name, so its claims
/// (`workspace-<sandbox>`) read the same.
pub const WORKSPACE_VOLUME: &str = "workspace";
pub const WORKSPACE_INIT_CONTAINER: &str = "workspace-init";
/// Where the init container sees the workspace, so that the image's `/sandbox` stays visible.
pub const SEED_DIR: &str = "/openshell-workspace-seed";
/// Marks a claim released by `--workspace-retain` (value: the sandbox id it belonged to).
pub const RETAINED_LABEL: &str = "openshell.ai/workspace-retained";
/// The controller adopts an unowned claim that carries this label with its sandbox's hash.
pub const NAME_HASH_LABEL: &str = "agents.x-k8s.io/sandbox-name-hash";
/// The capabilities the runtime grants root by default that copying files does not need; the
/// rest (CHOWN, DAC_OVERRIDE, FOWNER, FSETID) keep the image's owners and modes. Only drops,
/// so an SCC that allows no added capability admits the container.
const SEED_DROPS: [&str; 10] = [
    "AUDIT_WRITE",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// What one sandbox gets: the flags, with `driver_config.workspace` over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceVolume {
    pub mode: WorkspaceVolumeMode,
    pub size: String,
    pub storage_class: String,
    pub access_mode: AccessMode,
}

impl WorkspaceVolume {
    /// A request mount at `/sandbox` itself is the workspace: the driver adds none (as upstream).
    pub fn effective(
        flags: &WorkspaceVolumeConfig,
        requested: Option<&WorkspaceOverride>,
        mounts: &[VolumeMountConfig],
    ) -> Self {
        let requested = requested.cloned().unwrap_or_default();
        let own_mount = mounts.iter().any(|m| m.mount_path.trim_end_matches('/') == WORKDIR);
        Self {
            mode: if own_mount {
                WorkspaceVolumeMode::Off
            } else {
                requested.mode.unwrap_or(flags.mode)
            },
            size: requested.size.unwrap_or_else(|| flags.size.clone()),
            storage_class: requested.storage_class.unwrap_or_else(|| flags.storage_class.clone()),
            access_mode: requested.access_mode.unwrap_or(flags.access_mode),
        }
    }
}

/// The claim the controller makes for the Sandbox `object_name`.
pub fn claim_name(object_name: &str) -> String {
    format!("{WORKSPACE_VOLUME}-{object_name}")
}

/// The pod parts of a workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkspaceParts {
    /// Persistent: the Sandbox's `volumeClaimTemplates` (the controller adds the pod volume).
    pub claim_template: Option<PersistentVolumeClaimTemplate>,
    /// Ephemeral: the emptyDir.
    pub volume: Option<Volume>,
    pub agent_mount: VolumeMount,
    pub seed: Container,
}

/// What the init container needs from the rest of the pod.
pub struct SeedInputs<'a> {
    pub image: &'a str,
    pub launcher: &'a str,
    /// The mounts that bring the launcher into a container (the supervisor delivery's).
    pub launcher_mounts: &'a [VolumeMount],
    pub pull_policy: Option<String>,
}

pub fn parts(
    workspace: &WorkspaceVolume,
    labels: &BTreeMap<String, String>,
    seed: &SeedInputs,
) -> Option<WorkspaceParts> {
    let (claim_template, volume) = match workspace.mode {
        WorkspaceVolumeMode::Off => return None,
        WorkspaceVolumeMode::Ephemeral => (None, Some(empty_dir(WORKSPACE_VOLUME))),
        // Names are short (`validate_public_name`), so `workspace-<object>` is always a valid
        // claim name.
        WorkspaceVolumeMode::Persistent => (Some(claim_template(workspace, labels)), None),
    };
    Some(WorkspaceParts {
        claim_template,
        volume,
        agent_mount: mount(WORKSPACE_VOLUME, WORKDIR, false),
        seed: seed_container(seed),
    })
}

fn claim_template(workspace: &WorkspaceVolume, labels: &BTreeMap<String, String>) -> PersistentVolumeClaimTemplate {
    PersistentVolumeClaimTemplate {
        metadata: Some(ObjectMeta {
            name: Some(WORKSPACE_VOLUME.into()),
            labels: Some(labels.clone()),
            ..Default::default()
        }),
        spec: PersistentVolumeClaimSpec {
            access_modes: Some(vec![workspace.access_mode.as_k8s().into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(workspace.size.clone()),
                )])),
                ..Default::default()
            }),
            storage_class_name: (!workspace.storage_class.is_empty()).then(|| workspace.storage_class.clone()),
            ..Default::default()
        },
    }
}

/// Runs the launcher's `seed-workspace` in the agent's image: it copies the image's `/sandbox`
/// into the workspace once (a marker file says it is done), keeping owners, modes and links.
fn seed_container(seed: &SeedInputs) -> Container {
    let mut mounts: Vec<VolumeMount> = seed.launcher_mounts.to_vec();
    for m in &mut mounts {
        m.read_only = Some(true);
    }
    mounts.push(mount(WORKSPACE_VOLUME, SEED_DIR, false));
    Container {
        name: WORKSPACE_INIT_CONTAINER.into(),
        image: Some(seed.image.into()),
        image_pull_policy: seed.pull_policy.clone(),
        command: Some(vec![
            seed.launcher.into(),
            launcher::SEED_WORKSPACE.into(),
            WORKDIR.into(),
            SEED_DIR.into(),
        ]),
        volume_mounts: Some(mounts),
        security_context: Some(SecurityContext {
            run_as_user: Some(0),
            run_as_non_root: Some(false),
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(SEED_DROPS.iter().map(|c| c.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Makes the workspace the platform's sandbox user's (OpenShift gives each namespace its own
/// UID and GID, which the agent runs as, not the image's): the seed owns every copy to it.
pub fn own_workspace_as(pod: &mut k8s_openapi::api::core::v1::PodSpec, uid: u32, gid: u32) {
    for seed in pod
        .init_containers
        .iter_mut()
        .flatten()
        .filter(|c| c.name == WORKSPACE_INIT_CONTAINER)
    {
        if let Some(command) = seed.command.as_mut()
            && !command.iter().any(|a| a == launcher::OWNER_FLAG)
        {
            command.extend([launcher::OWNER_FLAG.to_string(), format!("{uid}:{gid}")]);
        }
    }
}

/// Whether an existing claim of a sandbox's name stops its create: one no Sandbox owns (kept by
/// `--workspace-retain`, or made by someone else) would never be adopted by the controller,
/// so the sandbox would never start. One a Sandbox still owns is a retry's, or an old
/// sandbox's the garbage collector is about to remove.
/// `sandbox_kind` is the Sandbox's kind (`render::SANDBOX_KIND`).
pub fn kept_claim_blocks(claim: &ObjectMeta, sandbox_kind: &str) -> bool {
    !claim.owner_references.iter().flatten().any(|o| o.kind == sandbox_kind)
}

/// The merge patch that releases a claim from the Sandbox `uid` so that deleting the Sandbox
/// keeps it: no owner reference to it, no tracking label (the controller would adopt it again
/// for a new sandbox of the same name), and the retained label naming the sandbox. `None`: the
/// claim is not that Sandbox's (nothing to release). Preconditioned on the resourceVersion.
pub fn release_patch(claim: &ObjectMeta, uid: &str, sandbox_id: &str) -> Option<serde_json::Value> {
    let owners = claim.owner_references.clone().unwrap_or_default();
    if !owners.iter().any(|o| o.uid == uid) {
        return None;
    }
    let others: Vec<_> = owners.into_iter().filter(|o| o.uid != uid).collect();
    Some(serde_json::json!({
        "metadata": {
            "resourceVersion": claim.resource_version,
            "ownerReferences": others,
            "labels": { NAME_HASH_LABEL: null, RETAINED_LABEL: sandbox_id },
        }
    }))
}

#[cfg(test)]
#[path = "workspace_volume_tests.rs"]
mod tests;
