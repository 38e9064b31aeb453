//! `check`: preflight of the current kubeconfig for running the driver.

#[path = "check_scc.rs"]
mod scc;

use clap::{Args, ValueEnum};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, PostParams};

pub(crate) use crate::cli::check_line::line;
pub use crate::cli::check_line::{CheckLine, Verdict};
use crate::config::{DriverConfig, PlatformMode, SandboxAuth, WorkspaceMode};
use crate::error::DriverError;
use crate::kubernetes::capacity::allocatable_gpus;
use crate::kubernetes::client::{CRD_MISSING_MESSAGE, KubeCalls, SandboxApiState, sandbox_resource};
use crate::kubernetes::permissions::NamedObject;
use crate::kubernetes::render::{GPU_RESOURCE, sandbox_service_account};
use crate::kubernetes::sideload::resolve;
use crate::kubernetes::supervisor::{checked_endpoint, missing_tls_keys};
use crate::metrics::NoopMetrics;
use crate::openshift::api::{SCC_PLURAL, scc_resource};
use crate::openshift::detect::{PlatformFacts, openshift_active};
use crate::openshift::permissions::required;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckOutput {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: CheckOutput,
    #[command(flatten)]
    pub driver: DriverConfig,
}

/// Runs every check it can; a failure of the API server itself ends the list early.
pub async fn run_checks(client: kube::Client, config: &DriverConfig) -> Vec<CheckLine> {
    let kube = KubeCalls {
        client: client.clone(),
        timeout: config.kube_api_timeout,
        metrics: std::sync::Arc::new(NoopMetrics),
    };
    let mut lines = Vec::new();
    match kube.call("get", "version", client.apiserver_version()).await {
        Ok(v) => lines.push(line(
            "api-server",
            Verdict::Pass,
            format!("reachable, Kubernetes {}", v.git_version),
        )),
        Err(e) => {
            lines.push(line("api-server", Verdict::Fail, e.to_string()));
            return lines;
        }
    }
    lines.push(crate::cli::check_network::settings_line(config));
    lines.push(sideload_line(&kube, config).await);
    lines.push(expiry_line(config));
    lines.extend(host_gateway_line(config));
    let served = match kube.discover_sandbox_api().await {
        Ok(SandboxApiState::Served(v)) => {
            lines.push(line(
                "sandbox-crd",
                Verdict::Pass,
                format!("{} served", v.api_version()),
            ));
            Some(v)
        }
        Ok(SandboxApiState::Missing) => {
            lines.push(line("sandbox-crd", Verdict::Fail, CRD_MISSING_MESSAGE));
            None
        }
        Err(e) => {
            lines.push(line("sandbox-crd", Verdict::Fail, e.to_string()));
            None
        }
    };
    lines.extend(super::check_workspace::workspace_lines(&kube, config).await);
    let facts = PlatformFacts {
        // Asked only when the mode leaves it open.
        scc_api: config.openshift.platform == PlatformMode::Auto
            && kube
                .serves(&scc_resource().api_version, SCC_PLURAL)
                .await
                .unwrap_or(false),
        ..Default::default()
    };
    let openshift = openshift_active(config.openshift.platform, &facts);
    lines.push(line(
        "platform",
        Verdict::Pass,
        if openshift {
            "OpenShift: SCC, SELinux and Route additions apply"
        } else {
            "plain Kubernetes: no OpenShift additions"
        },
    ));
    lines.extend(permission_lines(&kube, config, openshift).await);
    lines.extend(supervisor_lines(&kube, config).await);
    lines.extend(crate::cli::check_network::proxy_line(&kube, config).await);
    lines.extend(crate::cli::check_spiffe::spiffe_line(&kube, config).await);
    lines.push(crate::cli::check_workspace_volume::workspace_volume_line(&kube, config).await);
    lines.extend(crate::cli::check_warm_pool::warm_pool_lines(&kube, config, served).await);
    if openshift && config.workspace_mode == WorkspaceMode::Shared {
        lines.push(scc::scc_line(client.clone(), &kube, config).await);
    }
    lines.push(gpu_line(&kube).await);
    if let Some(version) = served {
        lines.push(controller_line(&kube, config, version).await);
    }
    lines
}

/// How this cluster gets the supervisor (`--supervisor-sideload`), as `serve` would decide.
async fn sideload_line(kube: &KubeCalls, config: &DriverConfig) -> CheckLine {
    match kube.api_server_facts().await {
        Ok(facts) => {
            let r = resolve(config.supervisor_sideload, &facts);
            let verdict = if r.supported { Verdict::Pass } else { Verdict::Fail };
            line(
                "supervisor-sideload",
                verdict,
                format!("{}: {}", r.sideload.as_flag(), r.why),
            )
        }
        Err(e) => line("supervisor-sideload", Verdict::Warn, format!("cannot tell: {e}")),
    }
}

/// When sandboxes expire (`--default-ttl`, `--expiry-policy`); the flags' parsers refused bad values.
fn expiry_line(config: &DriverConfig) -> CheckLine {
    let detail = if config.default_ttl.is_zero() {
        "no --default-ttl: sandboxes expire only when driver_config.ttl asks".to_string()
    } else {
        format!(
            "sandboxes expire {} after create unless driver_config.ttl says otherwise; then shutdownPolicy {}",
            humantime::format_duration(config.default_ttl),
            config.expiry_policy.as_k8s()
        )
    };
    line("expiry", Verdict::Pass, detail)
}

/// `--host-gateway-ip` helps only a gateway endpoint that uses one of the names it adds.
fn host_gateway_line(config: &DriverConfig) -> Option<CheckLine> {
    use crate::kubernetes::host_alias::HOST_GATEWAY_NAMES;
    let ip = config.host_gateway_ip?;
    let endpoint = config.gateway_endpoint.trim();
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let host = host.split(['/', ':']).next().unwrap_or_default();
    Some(if HOST_GATEWAY_NAMES.contains(&host) {
        line("host-gateway-ip", Verdict::Pass, format!("pods resolve {host} to {ip}"))
    } else {
        line(
            "host-gateway-ip",
            Verdict::Warn,
            format!(
                "pods resolve {} to {ip}, but --gateway-endpoint {endpoint} uses neither",
                HOST_GATEWAY_NAMES.join(" and ")
            ),
        )
    })
}

async fn permission_lines(kube: &KubeCalls, config: &DriverConfig, openshift: bool) -> Vec<CheckLine> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(kube.client.clone());
    let mut lines = Vec::new();
    for p in required(config.workspace_mode, openshift) {
        if p.resource == "networkpolicies" && !config.ingress.gateway_ingress_only {
            continue; // only --gateway-ingress-only writes NetworkPolicies
        }
        let namespace = p.namespaced.then(|| config.namespace.clone());
        let (resource, subresource) = match p.resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_string())),
            None => (p.resource, None),
        };
        let objects = match p.object {
            NamedObject::CopiedSecrets => crate::kubernetes::copies::copied_secrets(config)
                .into_iter()
                .map(|c| Some(c.name))
                .collect(),
            _ => vec![None],
        };
        for copied in objects {
            let object = match p.object {
                NamedObject::CopiedSecrets => copied.clone(),
                NamedObject::Any => None,
                NamedObject::SandboxNamespace => Some(config.namespace.clone()),
                NamedObject::Scc => Some(config.openshift.scc.clone()),
                NamedObject::SccGrantRole => Some(config.openshift.scc_grant_cluster_role.clone()),
                // Without a client TLS Secret the driver reads none.
                NamedObject::ClientTlsSecret if config.client_tls_secret.is_empty() => continue,
                NamedObject::ClientTlsSecret => Some(config.client_tls_secret.clone()),
                NamedObject::SandboxServiceAccount => Some(sandbox_service_account(&config.sandbox_service_account)),
            };
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(p.verb.into()),
                        group: Some(p.group.into()),
                        resource: Some(resource.into()),
                        subresource: subresource.clone(),
                        name: object,
                        namespace: namespace.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let scope = namespace
                .clone()
                .map_or_else(|| "cluster-wide".to_string(), |n| format!("in {n}"));
            let mut name = format!("permission {} {} {scope}", p.verb, qualified(p.group, p.resource));
            if let Some(copied) = &copied {
                name.push_str(&format!(" ({copied})"));
            }
            lines.push(
                match kube
                    .call(
                        "create",
                        "selfsubjectaccessreviews",
                        reviews.create(&PostParams::default(), &review),
                    )
                    .await
                {
                    Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => {
                        line(name, Verdict::Pass, format!("allowed ({})", p.why))
                    }
                    Ok(_) => line(name, Verdict::Fail, format!("denied: needed for {}", p.why)),
                    Err(e) => line(name, Verdict::Warn, format!("could not ask: {e}")),
                },
            );
        }
    }
    lines
}

/// What the supervisor in each pod will be given: a reachable gateway, the trust for https, and
/// a way to prove who it is (the contract in `kubernetes::supervisor`).
async fn supervisor_lines(kube: &KubeCalls, config: &DriverConfig) -> Vec<CheckLine> {
    let mut lines = vec![match checked_endpoint(config) {
        Ok(endpoint) => line(
            "gateway-endpoint",
            Verdict::Pass,
            format!("supervisors connect to {endpoint}"),
        ),
        Err(e) => line("gateway-endpoint", Verdict::Fail, e.to_string()),
    }];
    if !config.client_tls_secret.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(kube.client.clone(), &config.namespace);
        let name = &config.client_tls_secret;
        lines.push(match kube.call("get", "secrets", secrets.get(name)).await {
            Ok(secret) => {
                let missing = missing_tls_keys(&secret);
                if missing.is_empty() {
                    line(
                        "client-tls",
                        Verdict::Pass,
                        format!("{name} has ca.crt, tls.crt and tls.key"),
                    )
                } else {
                    line(
                        "client-tls",
                        Verdict::Fail,
                        format!("{name} lacks {}", missing.join(", ")),
                    )
                }
            }
            Err(DriverError::NotFound(_)) => line(
                "client-tls",
                Verdict::Fail,
                format!("{name} does not exist in {}", config.namespace),
            ),
            Err(e) => line("client-tls", Verdict::Warn, format!("{name}: cannot tell ({e})")),
        });
    }
    lines.push(super::check_workspace::service_account_line(kube, config).await);
    lines.push(match config.sandbox_auth {
        SandboxAuth::ServiceAccount => line(
            "sandbox-auth",
            Verdict::Pass,
            format!(
                "service-account: projected token (audience {}) exchanged for a gateway JWT; the gateway needs sandbox JWTs and Kubernetes token verification for ServiceAccount {}",
                config.sandbox_token_audience,
                sandbox_service_account(&config.sandbox_service_account)
            ),
        ),
        SandboxAuth::TokenFile => line(
            "sandbox-auth",
            Verdict::Warn,
            "token-file: creates fail unless the gateway sends a sandbox token ([openshell.gateway.gateway_jwt]); the token cannot be renewed after it expires",
        ),
    });
    lines
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

async fn gpu_line(kube: &KubeCalls) -> CheckLine {
    let nodes: Api<Node> = Api::all(kube.client.clone());
    match kube.call("list", "nodes", nodes.list(&ListParams::default())).await {
        Ok(list) => {
            let gpus: Vec<String> = list
                .items
                .iter()
                .filter_map(|n| {
                    let count = allocatable_gpus(n);
                    (count > 0).then(|| format!("{}={count}", n.name_any()))
                })
                .collect();
            if gpus.is_empty() {
                line(
                    "gpu-nodes",
                    Verdict::Pass,
                    format!("{} nodes, none with allocatable {GPU_RESOURCE}", list.items.len()),
                )
            } else {
                line(
                    "gpu-nodes",
                    Verdict::Pass,
                    format!("allocatable {GPU_RESOURCE}: {}", gpus.join(", ")),
                )
            }
        }
        Err(e) => line("gpu-nodes", Verdict::Fail, e.to_string()),
    }
}

/// The controller is seen either as a running pod or by the status it wrote on Sandboxes.
async fn controller_line(
    kube: &KubeCalls,
    config: &DriverConfig,
    version: crate::kubernetes::render::SandboxApiVersion,
) -> CheckLine {
    let pods: Api<Pod> = Api::all(kube.client.clone());
    if let Ok(list) = kube
        .call(
            "list",
            "pods",
            pods.list(&ListParams::default().labels("app=agent-sandbox-controller")),
        )
        .await
    {
        let running = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running > 0 {
            return line(
                "controller",
                Verdict::Pass,
                format!("{running} agent-sandbox-controller pod(s) running"),
            );
        }
    }
    let sandboxes: Api<DynamicObject> = match config.workspace_mode {
        WorkspaceMode::Shared => {
            Api::namespaced_with(kube.client.clone(), &config.namespace, &sandbox_resource(version))
        }
        WorkspaceMode::Managed | WorkspaceMode::Operator => {
            Api::all_with(kube.client.clone(), &sandbox_resource(version))
        }
    };
    if let Ok(list) = kube
        .call("list", "sandboxes", sandboxes.list(&ListParams::default()))
        .await
    {
        let latest = list
            .items
            .iter()
            .flat_map(|s| s.data["status"]["conditions"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["lastTransitionTime"].as_str().map(str::to_string))
            .max();
        if let Some(when) = latest {
            return line(
                "controller",
                Verdict::Pass,
                format!("status written on Sandboxes (latest transition {when})"),
            );
        }
    }
    line(
        "controller",
        Verdict::Warn,
        "no running pod labelled app=agent-sandbox-controller and no Sandbox status yet: cannot confirm the controller runs",
    )
}

pub fn render_text(lines: &[CheckLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let tag = match l.verdict {
                Verdict::Pass => "PASS",
                Verdict::Warn => "WARN",
                Verdict::Fail => "FAIL",
            };
            format!("{tag}  {:<58} {}\n", l.check, l.detail)
        })
        .collect()
}

/// Prints the result; the caller exits non-zero when this returns false.
pub async fn run(mut args: CheckArgs) -> anyhow::Result<bool> {
    args.driver.resolve_mode_defaults();
    let client = kube::Client::try_default()
        .await
        .map_err(|e| anyhow::anyhow!("no Kubernetes configuration: {e}"))?;
    let lines = run_checks(client, &args.driver).await;
    match args.output {
        CheckOutput::Text => print!("{}", render_text(&lines)),
        CheckOutput::Json => println!("{}", serde_json::to_string_pretty(&lines)?),
    }
    Ok(lines.iter().all(|l| l.verdict != Verdict::Fail))
}
