//! What OpenShift adds to a rendered Sandbox: SCC annotation, sandbox UID/GID, SELinux options,
//! the exposed port and the oauth-proxy sidecar. Pure: `decision` makes an [`OpenShiftPlan`],
//! these functions apply it (`companions` makes the objects next to the Sandbox).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, ContainerPort, DownwardAPIProjection, DownwardAPIVolumeFile, EnvVar, KeyToPath,
    ObjectFieldSelector, ProjectedVolumeSource, ResourceRequirements, SELinuxOptions, SecretVolumeSource,
    SecurityContext, ServiceAccountTokenProjection, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::config::{DriverConfig, ExposeAuth};
use crate::error::DriverError;
use crate::kubernetes::render::{AGENT_CONTAINER, SandboxManifest, unprivileged};
use crate::openshift::expose::{Exposure, OAUTH_PROXY_PORT};
use crate::openshift::namespace::NamespaceSecurity;

pub const REQUIRED_SCC_ANNOTATION: &str = "openshift.io/required-scc";
pub const SERVING_CERT_ANNOTATION: &str = "service.beta.openshift.io/serving-cert-secret-name";
pub const OAUTH_REDIRECT_PREFIX: &str = "serviceaccounts.openshift.io/oauth-redirectreference.";
/// On a Route: the ServiceAccount whose OAuth redirect annotation points at it.
pub const OAUTH_CLIENT_ANNOTATION: &str = "openshell.ai/oauth-client-service-account";
pub const OAUTH_PROXY_CONTAINER: &str = "oauth-proxy";
pub const SANDBOX_PORT_NAME: &str = "sandbox";
pub const COOKIE_KEY: &str = "session_secret";
const PROXY_TLS_DIR: &str = "/etc/tls/private";
const PROXY_COOKIE_DIR: &str = "/etc/proxy/secrets";
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The SELinux type to request, and the node label that says where it is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelinuxChoice {
    pub type_name: String,
    /// Set when the type was detected from node labels: the pod must land on such a node.
    pub node_label: Option<(String, String)>,
}

/// Everything the OpenShift enricher decided for one sandbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenShiftPlan {
    pub scc: String,
    pub service_account: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub selinux: Option<SELinuxOptions>,
    pub selinux_node: Option<(String, String)>,
    pub exposure: Option<Exposure>,
    pub oauth_proxy_image: String,
}

pub use crate::kubernetes::render::sandbox_service_account;

/// Flags win over the namespace's allocation; the SELinux level only comes with a type.
pub fn plan(
    driver: &DriverConfig,
    service_account: &str,
    namespace: &NamespaceSecurity,
    selinux: Option<&SelinuxChoice>,
    exposure: Option<Exposure>,
) -> OpenShiftPlan {
    let config = &driver.openshift;
    OpenShiftPlan {
        scc: config.scc.clone(),
        service_account: sandbox_service_account(service_account),
        // A pinned id is already in the rendered pod; only the namespace's range replaces it.
        uid: driver.sandbox_uid.or(namespace.uid),
        gid: driver.sandbox_gid.or(namespace.gid),
        selinux: selinux.map(|c| SELinuxOptions {
            type_: Some(c.type_name.clone()),
            level: namespace.mcs_level.clone(),
            ..Default::default()
        }),
        selinux_node: selinux.and_then(|c| c.node_label.clone()),
        exposure,
        oauth_proxy_image: config.oauth_proxy_image.clone(),
    }
}

/// Names of the objects an exposed sandbox gets. Services need a DNS-1035 label (a letter
/// first), which an object name starting with a digit is not; hence the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeNames {
    pub service: String,
    pub route: String,
    pub cookie_secret: String,
    pub tls_secret: String,
    pub redirect_annotation: String,
}

pub fn expose_names(object_name: &str) -> ExposeNames {
    let base = format!("sandbox-{object_name}");
    ExposeNames {
        service: base.clone(),
        route: base,
        cookie_secret: format!("{object_name}-oauth-cookie"),
        tls_secret: format!("{object_name}-oauth-tls"),
        redirect_annotation: format!("{OAUTH_REDIRECT_PREFIX}{}", short_name(object_name, 63 - 24)),
    }
}

/// `name` if it fits in `max`, else a prefix plus a stable hash, so that keys stay unique.
fn short_name(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    // FNV-1a: stable across builds, unlike the std hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let keep = max - 9;
    format!("{}-{:08x}", name[..keep].trim_end_matches('-'), hash as u32)
}

/// Applies `plan` to the rendered Sandbox.
pub fn apply_plan(
    manifest: &mut SandboxManifest,
    plan: &OpenShiftPlan,
    names: &ExposeNames,
) -> Result<(), DriverError> {
    let namespace = manifest.metadata.namespace.clone().unwrap_or_default();
    let template = &mut manifest.spec.pod_template;
    template
        .metadata
        .annotations
        .insert(REQUIRED_SCC_ANNOTATION.into(), plan.scc.clone());
    if let Some((key, value)) = &plan.selinux_node {
        template
            .spec
            .node_selector
            .get_or_insert_with(BTreeMap::new)
            .insert(key.clone(), value.clone());
    }
    let agent = manifest
        .agent_container_mut()
        .ok_or_else(|| DriverError::Internal(format!("rendered Sandbox has no {AGENT_CONTAINER} container")))?;
    let env = agent.env.get_or_insert_with(Vec::new);
    for (name, value) in [("OPENSHELL_SANDBOX_UID", plan.uid), ("OPENSHELL_SANDBOX_GID", plan.gid)] {
        if let Some(id) = value {
            env.retain(|e| e.name != name);
            env.push(EnvVar {
                name: name.into(),
                value: Some(id.to_string()),
                value_from: None,
            });
        }
    }
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let selinux = plan.selinux.clone();
    crate::kubernetes::topology::reassign_ids(&mut manifest.spec.pod_template.spec, plan.uid, plan.gid);
    if let (Some(uid), Some(gid)) = (plan.uid, plan.gid) {
        crate::kubernetes::workspace_volume::own_workspace_as(&mut manifest.spec.pod_template.spec, uid, gid);
    }
    let agent = manifest
        .agent_container_mut()
        .ok_or_else(|| DriverError::Internal(format!("rendered Sandbox has no {AGENT_CONTAINER} container")))?;
    if let Some(options) = &selinux {
        set_selinux(agent, options);
    }
    // In the sidecar topology the supervisor also runs in network-init and the network
    // container: the type the policy grants the supervisor applies to each of them.
    if let Some(options) = &selinux {
        let spec = &mut manifest.spec.pod_template.spec;
        let sidecars = spec
            .init_containers
            .iter_mut()
            .flatten()
            .chain(spec.containers.iter_mut());
        for container in sidecars.filter(|c| SUPERVISOR_SIDECARS.contains(&c.name.as_str())) {
            set_selinux(container, options);
        }
    }
    let agent = manifest
        .agent_container_mut()
        .ok_or_else(|| DriverError::Internal(format!("rendered Sandbox has no {AGENT_CONTAINER} container")))?;
    let Some(exposure) = &plan.exposure else {
        return Ok(());
    };
    agent.ports = Some(vec![ContainerPort {
        name: Some(SANDBOX_PORT_NAME.into()),
        container_port: i32::from(exposure.port),
        protocol: Some("TCP".into()),
        ..Default::default()
    }]);
    if exposure.auth == ExposeAuth::Openshift {
        let pull_policy = agent.image_pull_policy.clone();
        let spec = &mut manifest.spec.pod_template.spec;
        // A projected token must name its ServiceAccount; "default" is otherwise implied.
        spec.service_account_name
            .get_or_insert_with(|| plan.service_account.clone());
        spec.containers
            .push(oauth_proxy(plan, exposure, names, &namespace, pull_policy));
        spec.volumes
            .get_or_insert_with(Vec::new)
            .extend(oauth_proxy_volumes(names));
    }
    Ok(())
}

/// The containers of the sidecar topology that run the supervisor.
const SUPERVISOR_SIDECARS: [&str; 2] = [
    crate::kubernetes::topology::NETWORK_INIT_CONTAINER,
    crate::kubernetes::topology::NETWORK_CONTAINER,
];

fn set_selinux(container: &mut Container, options: &SELinuxOptions) {
    container
        .security_context
        .get_or_insert_with(SecurityContext::default)
        .se_linux_options = Some(options.clone());
}

fn oauth_proxy(
    plan: &OpenShiftPlan,
    exposure: &Exposure,
    names: &ExposeNames,
    namespace: &str,
    pull_policy: Option<String>,
) -> Container {
    // Only users who may read the sandbox's Service in its namespace get through.
    let sar = serde_json::json!({
        "namespace": namespace, "resource": "services", "resourceName": names.service, "verb": "get"
    });
    let mount = |name: &str, path: &str| VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(true),
        ..Default::default()
    };
    Container {
        name: OAUTH_PROXY_CONTAINER.into(),
        image: Some(plan.oauth_proxy_image.clone()),
        image_pull_policy: pull_policy,
        args: Some(vec![
            "--provider=openshift".into(),
            format!("--https-address=:{OAUTH_PROXY_PORT}"),
            "--http-address=".into(),
            format!("--upstream=http://localhost:{}", exposure.port),
            format!("--openshift-service-account={}", plan.service_account),
            format!("--openshift-sar={sar}"),
            format!("--tls-cert={PROXY_TLS_DIR}/tls.crt"),
            format!("--tls-key={PROXY_TLS_DIR}/tls.key"),
            format!("--cookie-secret-file={PROXY_COOKIE_DIR}/{COOKIE_KEY}"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some(OAUTH_PROXY_CONTAINER.into()),
            container_port: i32::from(OAUTH_PROXY_PORT),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        volume_mounts: Some(vec![
            mount("oauth-proxy-tls", PROXY_TLS_DIR),
            mount("oauth-proxy-cookie", PROXY_COOKIE_DIR),
            mount("oauth-proxy-token", SERVICE_ACCOUNT_DIR),
        ]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("10m".into())),
                ("memory".to_string(), Quantity("32Mi".into())),
            ])),
            limits: Some(BTreeMap::from([("memory".to_string(), Quantity("128Mi".into()))])),
            ..Default::default()
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(i64::from(plan.uid.unwrap_or(65534))),
            ..unprivileged()
        }),
        ..Default::default()
    }
}

/// The proxy's volumes. The ServiceAccount token (the OAuth client secret) is projected into
/// the proxy only: the agent container still gets no Kubernetes credentials.
fn oauth_proxy_volumes(names: &ExposeNames) -> Vec<Volume> {
    let secret = |volume: &str, secret: &str| Volume {
        name: volume.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            default_mode: Some(0o440),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = Volume {
        name: "oauth-proxy-token".into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".into(),
                        expiration_seconds: Some(3600),
                        audience: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".into(),
                            path: "ca.crt".into(),
                            mode: None,
                        }]),
                        optional: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.namespace".into(),
                                api_version: None,
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
            default_mode: None,
        }),
        ..Default::default()
    };
    vec![
        secret("oauth-proxy-tls", &names.tls_secret),
        secret("oauth-proxy-cookie", &names.cookie_secret),
        token,
    ]
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
