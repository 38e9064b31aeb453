//! The sandbox pod's volumes and the agent's mounts: the supervisor's and the runtime's
//! emptyDirs, the identity (projected token or token Secret), the client TLS Secret and the
//! request's claims. Pure.

use k8s_openapi::api::core::v1::{
    PersistentVolumeClaimVolumeSource, ProjectedVolumeSource, SecretVolumeSource, ServiceAccountTokenProjection,
    Volume, VolumeMount, VolumeProjection,
};

use crate::config::{DriverConfig, SandboxAuth};
use crate::kubernetes::identity::SandboxIdentity;
use crate::kubernetes::mounts::{empty_dir, mount};
use crate::kubernetes::supervisor::{
    IDENTITY_DIR, IDENTITY_VOLUME, RUNTIME_DIR, RUNTIME_VOLUME, TLS_DIR, TLS_VOLUME, TOKEN_KEY,
};

/// Paths of the driver's own mounts, which `driver_config.volume_mounts` may not overlap.
pub(crate) fn reserved_paths(config: &DriverConfig) -> Vec<String> {
    let mut paths = driver_mounts(config);
    paths.extend(config.spiffe.socket_dir());
    paths
}

/// What the SPIFFE socket's directory may not overlap: the driver's other mounts and the
/// supervisor's workdir.
pub(crate) fn beside_spiffe(config: &DriverConfig) -> Vec<String> {
    let mut paths = driver_mounts(config);
    paths.push(crate::kubernetes::supervisor::WORKDIR.into());
    paths
}

fn driver_mounts(config: &DriverConfig) -> Vec<String> {
    use crate::kubernetes::topology;
    let mut paths = vec![
        supervisor_dir(config),
        IDENTITY_DIR.into(),
        TLS_DIR.into(),
        RUNTIME_DIR.into(),
        crate::kubernetes::proxy::PROXY_AUTH_DIR.into(),
    ];
    if config.topology.is_sidecar() {
        paths.extend([topology::STATE_DIR.into(), topology::TLS_WORK_DIR.into()]);
    }
    paths
}

pub fn supervisor_dir(config: &DriverConfig) -> String {
    config.supervisor_mount_path.trim_end_matches('/').to_string()
}

/// What the pod's volumes and the agent's mounts are made from.
pub(crate) struct PodParts<'a> {
    pub config: &'a DriverConfig,
    pub identity: &'a SandboxIdentity,
    pub volumes: &'a [crate::kubernetes::request_config::VolumeMountConfig],
    pub token_file: bool,
}

impl PodParts<'_> {
    pub(crate) fn volumes(&self) -> Vec<Volume> {
        let mut volumes = vec![empty_dir(RUNTIME_VOLUME)];
        volumes.extend(self.identity_volume());
        if !self.config.client_tls_secret.is_empty() {
            volumes.push(Volume {
                name: TLS_VOLUME.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(self.config.client_tls_secret.clone()),
                    default_mode: Some(0o400),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        volumes.extend(self.config.proxy.volume());
        volumes.extend(self.config.spiffe.volume());
        for (i, m) in self.volumes.iter().enumerate() {
            volumes.push(Volume {
                name: format!("user-volume-{i}"),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: m.claim_name.clone(),
                    read_only: Some(m.read_only),
                }),
                ..Default::default()
            });
        }
        volumes
    }

    /// The token Secret, or a projected ServiceAccount token the kubelet rotates; none in
    /// token-file mode without a token (CreateSandbox refuses that before anything is written).
    fn identity_volume(&self) -> Option<Volume> {
        let source = match self.config.sandbox_auth {
            SandboxAuth::ServiceAccount => Volume {
                projected: Some(ProjectedVolumeSource {
                    default_mode: Some(0o400),
                    sources: Some(vec![VolumeProjection {
                        service_account_token: Some(ServiceAccountTokenProjection {
                            audience: Some(self.config.sandbox_token_audience.clone()),
                            expiration_seconds: Some(self.config.sandbox_token_ttl.as_secs() as i64),
                            path: TOKEN_KEY.into(),
                        }),
                        ..Default::default()
                    }]),
                }),
                ..Default::default()
            },
            SandboxAuth::TokenFile if self.token_file => Volume {
                secret: Some(SecretVolumeSource {
                    secret_name: Some(self.identity.token_secret_name()),
                    default_mode: Some(0o400),
                    ..Default::default()
                }),
                ..Default::default()
            },
            SandboxAuth::TokenFile => return None,
        };
        Some(Volume {
            name: IDENTITY_VOLUME.into(),
            ..source
        })
    }

    pub(crate) fn agent_mounts(&self) -> Vec<VolumeMount> {
        let mut mounts = vec![mount(RUNTIME_VOLUME, RUNTIME_DIR, false)];
        if self.identity_volume().is_some() {
            mounts.push(mount(IDENTITY_VOLUME, IDENTITY_DIR, true));
        }
        if !self.config.client_tls_secret.is_empty() {
            mounts.push(mount(TLS_VOLUME, TLS_DIR, true));
        }
        mounts.extend(self.config.proxy.mount());
        mounts.extend(self.config.spiffe.mount());
        for (i, m) in self.volumes.iter().enumerate() {
            mounts.push(VolumeMount {
                sub_path: m.sub_path.clone(),
                ..mount(&format!("user-volume-{i}"), &m.mount_path, m.read_only)
            });
        }
        mounts
    }
}
