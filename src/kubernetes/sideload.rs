//! How the supervisor and the launcher reach the agent container: mounted read-only from their
//! own images (`image` volumes, GA in Kubernetes 1.36), or copied by init containers into an
//! emptyDir. Which one `auto` picks is decided from the API server's version and, on 1.33 to
//! 1.35, its `ImageVolume` feature gate. Pure: the facts come in, the choice and the pod parts
//! go out.

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, ImageVolumeSource, Volume, VolumeMount};

use crate::config::DriverConfig;
pub use crate::config::sideload::SupervisorSideload;
use crate::kubernetes::supervisor::{SUPERVISOR_FILE, SUPERVISOR_VOLUME};
use crate::launcher;

pub const SUPERVISOR_INIT_CONTAINER: &str = "openshell-supervisor-install";
pub const LAUNCHER_INIT_CONTAINER: &str = "openshell-launcher-install";
/// The launcher's own image volume, when it comes from another image than the supervisor.
pub const LAUNCHER_VOLUME: &str = "openshell-launcher";
/// Where each image is mounted, under `--supervisor-mount-path`, in image-volume delivery.
pub const SUPERVISOR_IMAGE_DIR: &str = "supervisor";
pub const LAUNCHER_IMAGE_DIR: &str = "launcher";
/// The first minor release in which `ImageVolume` is GA (always on), and the first with it in
/// beta (a feature gate, off by default until 1.35).
pub const IMAGE_VOLUME_GA_MINOR: u32 = 36;
pub const IMAGE_VOLUME_BETA_MINOR: u32 = 33;
/// The API server's own `/metrics` series that tells whether a feature gate is on.
pub const FEATURE_METRIC: &str = "kubernetes_feature_enabled";
pub const IMAGE_VOLUME_GATE: &str = "ImageVolume";

/// Whether the API server's `ImageVolume` gate is on, as its `/metrics` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateState {
    On,
    Off,
    /// Not asked (a version that needs no gate) or not answerable (why).
    Unknown(String),
}

/// What the API server told about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServerFacts {
    /// `major.minor` of `/version`; `None` when it does not parse.
    pub version: Option<(u32, u32)>,
    pub image_volume_gate: GateState,
}

impl ApiServerFacts {
    /// Whether the gate must be asked to decide (1.33 to 1.35).
    pub fn gate_matters(version: Option<(u32, u32)>) -> bool {
        matches!(version, Some((1, m)) if (IMAGE_VOLUME_BETA_MINOR..IMAGE_VOLUME_GA_MINOR).contains(&m))
    }
}

/// The choice for this cluster, and why; `supported` is false when an explicit image-volume
/// choice meets an API server that drops image volumes (`check` fails on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub sideload: SupervisorSideload,
    pub supported: bool,
    pub why: String,
}

/// `major` and `minor` of `/version` (`"1"`, `"36"`; providers append `+`).
pub fn parse_version(major: &str, minor: &str) -> Option<(u32, u32)> {
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse().ok()
    };
    Some((digits(major)?, digits(minor)?))
}

/// The `ImageVolume` gate in the API server's metrics exposition:
/// `kubernetes_feature_enabled{name="ImageVolume",stage="BETA"} 1`.
pub fn gate_from_metrics(exposition: &str) -> GateState {
    let wanted = format!("name=\"{IMAGE_VOLUME_GATE}\"");
    let found = exposition
        .lines()
        .filter(|l| l.starts_with(FEATURE_METRIC) && l[FEATURE_METRIC.len()..].starts_with('{'))
        .find(|l| l.split_once('}').is_some_and(|(labels, _)| labels.contains(&wanted)));
    match found.and_then(|l| l.rsplit_once(' ')).map(|(_, v)| v.trim()) {
        Some("1") => GateState::On,
        Some("0") => GateState::Off,
        Some(other) => GateState::Unknown(format!("{FEATURE_METRIC} for {IMAGE_VOLUME_GATE} reads {other:?}")),
        None => GateState::Unknown(format!(
            "the API server's /metrics have no {FEATURE_METRIC} series for {IMAGE_VOLUME_GATE}"
        )),
    }
}

/// Decides the delivery for a cluster.
pub fn resolve(choice: SupervisorSideload, facts: &ApiServerFacts) -> Resolution {
    let version = facts.version.map_or_else(
        || "an unparsable version".to_string(),
        |(a, b)| format!("Kubernetes {a}.{b}"),
    );
    let (supports, reason) = match (facts.version, &facts.image_volume_gate) {
        (Some((1, m)), _) if m >= IMAGE_VOLUME_GA_MINOR => (true, format!("{version}: ImageVolume is GA")),
        (Some((major, _)), _) if major > 1 => (true, format!("{version}: ImageVolume is GA")),
        (v, GateState::On) if ApiServerFacts::gate_matters(v) => (
            true,
            format!("{version} with the ImageVolume feature gate on ({FEATURE_METRIC})"),
        ),
        (v, GateState::Off) if ApiServerFacts::gate_matters(v) => (
            false,
            format!("{version} with the ImageVolume feature gate off ({FEATURE_METRIC})"),
        ),
        (v, GateState::Unknown(why)) if ApiServerFacts::gate_matters(v) => (
            false,
            format!(
                "{version}: cannot tell whether the ImageVolume feature gate is on ({why}; grant get on the nonResourceURL /metrics, or choose --supervisor-sideload)"
            ),
        ),
        _ => (
            false,
            format!("{version}: image volumes need 1.33 with the ImageVolume gate, or 1.36"),
        ),
    };
    match choice {
        SupervisorSideload::InitContainer => Resolution {
            sideload: choice,
            supported: true,
            why: "chosen by --supervisor-sideload".into(),
        },
        SupervisorSideload::ImageVolume => Resolution {
            sideload: choice,
            supported: supports,
            why: if supports {
                format!("chosen by --supervisor-sideload; {reason}")
            } else {
                format!("chosen by --supervisor-sideload, but {reason}: the API server would drop the volume")
            },
        },
        SupervisorSideload::Auto => Resolution {
            sideload: if supports {
                SupervisorSideload::ImageVolume
            } else {
                SupervisorSideload::InitContainer
            },
            supported: true,
            why: format!("auto: {reason}"),
        },
    }
}

/// The pod parts that deliver both binaries, and where the agent finds them.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub supervisor: String,
    pub launcher: String,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    pub init_containers: Vec<Container>,
}

/// The delivery `config.supervisor_sideload` renders. One image volume serves both binaries
/// when they come from one image; two images need two volumes (an image volume mounts a whole
/// image, and read-only mounts cannot nest).
pub fn delivery(config: &DriverConfig, security: &k8s_openapi::api::core::v1::SecurityContext) -> Delivery {
    let dir = config.supervisor_mount_path.trim_end_matches('/');
    match config.supervisor_sideload.rendered() {
        SupervisorSideload::InitContainer => Delivery {
            supervisor: format!("{dir}/{SUPERVISOR_FILE}"),
            launcher: format!("{dir}/{}", launcher::FILE_NAME),
            volumes: vec![Volume {
                name: SUPERVISOR_VOLUME.into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            }],
            mounts: vec![mount(SUPERVISOR_VOLUME, dir)],
            init_containers: vec![
                copy_self(config, Binary::Supervisor, dir, security),
                copy_self(config, Binary::Launcher, dir, security),
            ],
        },
        _ => {
            let supervisor_dir = format!("{dir}/{SUPERVISOR_IMAGE_DIR}");
            let mut volumes = vec![image_volume(config, SUPERVISOR_VOLUME, &config.supervisor_image)];
            let mut mounts = vec![mount(SUPERVISOR_VOLUME, &supervisor_dir)];
            let launcher_dir = if config.launcher_image == config.supervisor_image {
                supervisor_dir.clone()
            } else {
                let launcher_dir = format!("{dir}/{LAUNCHER_IMAGE_DIR}");
                volumes.push(image_volume(config, LAUNCHER_VOLUME, &config.launcher_image));
                mounts.push(mount(LAUNCHER_VOLUME, &launcher_dir));
                launcher_dir
            };
            Delivery {
                supervisor: in_image(&supervisor_dir, &config.supervisor_binary_path),
                launcher: in_image(&launcher_dir, &config.launcher_binary_path),
                volumes,
                mounts,
                init_containers: Vec::new(),
            }
        }
    }
}

fn in_image(dir: &str, binary_path: &str) -> String {
    format!("{dir}/{}", binary_path.trim_start_matches('/'))
}

fn image_volume(config: &DriverConfig, name: &str, image: &str) -> Volume {
    Volume {
        name: name.into(),
        image: Some(ImageVolumeSource {
            reference: Some(image.into()),
            pull_policy: config.image_pull_policy.map(|p| p.as_k8s().to_string()),
        }),
        ..Default::default()
    }
}

fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    }
}

#[derive(Clone, Copy)]
enum Binary {
    Supervisor,
    Launcher,
}

/// An init container in which the binary copies itself, so its image needs no shell and no cp.
fn copy_self(
    config: &DriverConfig,
    binary: Binary,
    dir: &str,
    security: &k8s_openapi::api::core::v1::SecurityContext,
) -> Container {
    let (name, image, path, file) = match binary {
        Binary::Supervisor => (
            SUPERVISOR_INIT_CONTAINER,
            &config.supervisor_image,
            &config.supervisor_binary_path,
            SUPERVISOR_FILE,
        ),
        Binary::Launcher => (
            LAUNCHER_INIT_CONTAINER,
            &config.launcher_image,
            &config.launcher_binary_path,
            launcher::FILE_NAME,
        ),
    };
    Container {
        name: name.into(),
        image: Some(image.clone()),
        image_pull_policy: config.image_pull_policy.map(|p| p.as_k8s().to_string()),
        command: Some(vec![path.clone(), launcher::COPY_SELF.into(), format!("{dir}/{file}")]),
        volume_mounts: Some(vec![VolumeMount {
            read_only: Some(false),
            ..mount(SUPERVISOR_VOLUME, dir)
        }]),
        security_context: Some(security.clone()),
        ..Default::default()
    }
}

#[cfg(test)]
#[path = "sideload_tests.rs"]
mod tests;
