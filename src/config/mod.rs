//! Driver configuration: every flag has an environment variable, and `--help` shows defaults.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

pub mod expiry;
pub mod ingress;
pub mod operator;
pub mod proxy;
pub mod sideload;
pub mod spiffe;
pub mod topology;
pub mod warm_pool;
pub mod workspace_volume;

/// UID and GID the agent's processes run as unless the platform allots others (OpenShift).
pub const DEFAULT_SANDBOX_ID: u32 = 1000;

/// How workspaces map onto namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceMode {
    /// One namespace for every workspace; objects are named `{workspace}--{name}`.
    Shared,
    /// A namespace per workspace (`{prefix}{workspace}`), created on demand and labelled as ours.
    Managed,
    /// Workspaces are namespaces of the same name that the platform team made; only those on the
    /// allowlist (`--operator-namespace-label`, `--operator-namespace-file`) may be used. The
    /// driver never creates or deletes a namespace.
    Operator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    pub fn as_k8s(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// The ServiceAccount the driver creates for sandbox pods in managed workspace namespaces.
pub const MANAGED_SANDBOX_SERVICE_ACCOUNT: &str = "openshell-sandbox";

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 30s, 2m, 1500ms)"))
}

/// Stands for the gateway endpoint where none is needed (`render` offline, tests).
pub const OFFLINE_GATEWAY_ENDPOINT: &str = "http://openshell-gateway.invalid:8080";

/// The kubelet refuses projected tokens that live less than 10 minutes.
pub const MIN_TOKEN_TTL: Duration = Duration::from_secs(600);

fn parse_token_ttl(s: &str) -> Result<Duration, String> {
    let ttl = parse_duration(s)?;
    if ttl < MIN_TOKEN_TTL {
        return Err(format!(
            "{s} is below the 600s minimum the kubelet accepts for projected tokens"
        ));
    }
    Ok(ttl)
}

/// How the supervisor authenticates to the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SandboxAuth {
    /// A projected ServiceAccount token the supervisor exchanges for a gateway JWT
    /// (`IssueSandboxToken`), and again when it expires. Nothing secret is stored.
    ServiceAccount,
    /// The JWT the gateway sends with CreateSandbox, in a Secret owned by the Sandbox.
    TokenFile,
}

/// The agent container's AppArmor profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AppArmor {
    /// Not set: the cluster's default applies.
    #[default]
    Unset,
    RuntimeDefault,
    Unconfined,
    /// A profile loaded on the node, by name.
    Localhost(String),
}

pub fn parse_app_armor(s: &str) -> Result<AppArmor, String> {
    match s {
        "" => Ok(AppArmor::Unset),
        "runtime-default" => Ok(AppArmor::RuntimeDefault),
        "unconfined" => Ok(AppArmor::Unconfined),
        other => match other.strip_prefix("localhost/") {
            Some(name) if !name.is_empty() && !name.contains(char::is_whitespace) => {
                Ok(AppArmor::Localhost(name.into()))
            }
            _ => Err(format!(
                "{other:?} is not an AppArmor profile: expected runtime-default, unconfined or localhost/NAME"
            )),
        },
    }
}

/// Everything that shapes what the driver renders and how it talks to the cluster.
#[derive(Debug, Clone, Args)]
pub struct DriverConfig {
    /// Unix socket the gateway connects to. Its directory is created and locked to 0700; it
    /// must be a directory of the driver's own.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SOCKET",
        default_value = "/var/run/openshell-driver/driver.sock"
    )]
    pub socket: PathBuf,

    /// Extra peer UIDs allowed to connect besides the driver's own (comma separated).
    #[arg(long, env = "OPENSHELL_DRIVER_ALLOW_PEER_UID", value_delimiter = ',')]
    pub allow_peer_uid: Vec<u32>,

    /// Namespace of the sandboxes in shared workspace mode.
    #[arg(long, env = "OPENSHELL_DRIVER_NAMESPACE", default_value = "openshell-system")]
    pub namespace: String,

    /// How workspaces map onto namespaces.
    #[arg(long, env = "OPENSHELL_DRIVER_WORKSPACE_MODE", value_enum, default_value = "shared")]
    pub workspace_mode: WorkspaceMode,

    /// Prefix of per-workspace namespaces in managed mode.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_WORKSPACE_NAMESPACE_PREFIX",
        default_value = "openshell-ws-"
    )]
    pub workspace_namespace_prefix: String,

    /// Operator workspace mode: a label selector (e.g. `openshell.ai/workspace=true`); namespaces
    /// that match it are on the allowlist, followed by a watch.
    #[arg(long, env = "OPENSHELL_DRIVER_OPERATOR_NAMESPACE_LABEL", default_value = "")]
    pub operator_namespace_label: String,

    /// Operator workspace mode: a JSON file holding an array of namespace names on the allowlist
    /// (e.g. a mounted ConfigMap); re-read when it changes. With --operator-namespace-label as
    /// well, a namespace on either is allowed.
    #[arg(long, env = "OPENSHELL_DRIVER_OPERATOR_NAMESPACE_FILE")]
    pub operator_namespace_file: Option<PathBuf>,

    /// Identifies this gateway's sandboxes (label `openshell.ai/gateway-id`) so that several
    /// gateways can share a cluster.
    #[arg(long, env = "OPENSHELL_DRIVER_GATEWAY_ID", default_value = "openshell")]
    pub gateway_id: String,

    /// Gateway URL reachable from sandbox pods, injected as OPENSHELL_ENDPOINT. Required by
    /// `serve`: the supervisor exits at once without it.
    #[arg(long, env = "OPENSHELL_DRIVER_GATEWAY_ENDPOINT", default_value = "")]
    pub gateway_endpoint: String,

    /// A `kubernetes.io/tls` Secret (`ca.crt`, `tls.crt`, `tls.key`) in the sandbox namespace:
    /// the CA the supervisor trusts for an `https://` gateway and its client certificate.
    /// Required when --gateway-endpoint is https. Managed mode copies it into each workspace.
    #[arg(long, env = "OPENSHELL_DRIVER_CLIENT_TLS_SECRET", default_value = "")]
    pub client_tls_secret: String,

    /// How the supervisor proves who it is to the gateway.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SANDBOX_AUTH",
        value_enum,
        default_value = "service-account"
    )]
    pub sandbox_auth: SandboxAuth,

    /// Audience of the projected ServiceAccount token (`--sandbox-auth service-account`); the
    /// gateway's Kubernetes token check must expect the same.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SANDBOX_TOKEN_AUDIENCE",
        default_value = "openshell-gateway"
    )]
    pub sandbox_token_audience: String,

    /// Lifetime of the projected ServiceAccount token; the kubelet rotates it (600s minimum).
    #[arg(long, env = "OPENSHELL_DRIVER_SANDBOX_TOKEN_TTL", default_value = "1h", value_parser = parse_token_ttl)]
    pub sandbox_token_ttl: Duration,

    /// AppArmor profile of the agent container: runtime-default, unconfined or
    /// localhost/NAME (a sandbox's `platform_config.app_armor_profile` wins). The runtime's default profile forbids the mount behind `ip netns add`,
    /// so the supervisor's network namespace needs unconfined (or a profile allowing it) on
    /// AppArmor nodes. Empty: leave it to the cluster.
    #[arg(long, env = "OPENSHELL_DRIVER_APP_ARMOR_PROFILE", default_value = "", value_parser = parse_app_armor)]
    pub app_armor_profile: AppArmor,

    /// Run every sandbox in a user namespace (`hostUsers: false`, with the SETUID, SETGID and
    /// DAC_READ_SEARCH root needs there) unless its `platform_config.host_users` says otherwise.
    /// Needs nodes with user namespace support.
    #[arg(long, env = "OPENSHELL_DRIVER_ENABLE_USER_NAMESPACES")]
    pub enable_user_namespaces: bool,

    /// UID the supervisor runs the agent's processes as (OPENSHELL_SANDBOX_UID). Default 1000;
    /// on OpenShift the first UID of the namespace's `openshift.io/sa.scc.uid-range`.
    #[arg(long, env = "OPENSHELL_DRIVER_SANDBOX_UID")]
    pub sandbox_uid: Option<u32>,

    /// GID paired with --sandbox-uid (OPENSHELL_SANDBOX_GID). Default 1000; on OpenShift the
    /// first GID of the namespace's `openshift.io/sa.scc.supplemental-groups`.
    #[arg(long, env = "OPENSHELL_DRIVER_SANDBOX_GID")]
    pub sandbox_gid: Option<u32>,

    /// IP address of a gateway on the host, given to sandbox pods as `host.openshell.internal`
    /// and `host.docker.internal` (hostAliases), for a --gateway-endpoint by a name the
    /// cluster's DNS does not know.
    #[arg(long, env = "OPENSHELL_DRIVER_HOST_GATEWAY_IP")]
    pub host_gateway_ip: Option<std::net::IpAddr>,

    /// Image for sandboxes whose template names none (reported by GetCapabilities).
    #[arg(long, env = "OPENSHELL_DRIVER_DEFAULT_IMAGE", default_value = "")]
    pub default_image: String,

    /// Image that carries the OpenShell supervisor binary.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SUPERVISOR_IMAGE",
        default_value = "ghcr.io/nvidia/openshell/supervisor:latest"
    )]
    pub supervisor_image: String,

    /// Path of the supervisor binary inside the supervisor image.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SUPERVISOR_BINARY_PATH",
        default_value = "/openshell-sandbox"
    )]
    pub supervisor_binary_path: String,

    /// Image that carries the launcher (the agent container's entrypoint, which keeps an
    /// image's `OPENSHELL_*` settings from reaching the supervisor). The driver's own image
    /// ships it.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_LAUNCHER_IMAGE",
        default_value = concat!("ghcr.io/openshell/openshell-driver-openshift:", env!("CARGO_PKG_VERSION"))
    )]
    pub launcher_image: String,

    /// Path of the launcher binary inside the launcher image.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_LAUNCHER_BINARY_PATH",
        default_value = "/openshell-launcher"
    )]
    pub launcher_binary_path: String,

    /// How the supervisor and the launcher reach the agent container: mounted read-only from
    /// their images (`image-volume`, no init container and no copy), copied by init containers
    /// into an emptyDir (`init-container`), or `auto`: image-volume when the API server is 1.36
    /// or newer, or 1.33 to 1.35 with its ImageVolume feature gate on (read from its /metrics),
    /// else init-container. Decided when the driver connects; `check` reports it.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SUPERVISOR_SIDELOAD",
        value_enum,
        default_value = "auto"
    )]
    pub supervisor_sideload: sideload::SupervisorSideload,

    /// Where the agent container sees the supervisor, read-only (init-container: the emptyDir;
    /// image-volume: the images, under `supervisor/` and `launcher/`).
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SUPERVISOR_MOUNT_PATH",
        default_value = "/opt/openshell/bin"
    )]
    pub supervisor_mount_path: String,

    /// ServiceAccount of sandbox pods. Empty: `openshell-sandbox` in managed mode (the driver
    /// creates it in each workspace namespace), the namespace's `default` in shared mode. In shared
    /// mode a named one must exist: a create is FAILED_PRECONDITION otherwise.
    #[arg(long, env = "OPENSHELL_DRIVER_SANDBOX_SERVICE_ACCOUNT", default_value = "")]
    pub sandbox_service_account: String,

    /// imagePullPolicy of the agent and supervisor containers (cluster default when unset).
    #[arg(long, env = "OPENSHELL_DRIVER_IMAGE_PULL_POLICY", value_enum)]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Secrets used to pull images (comma separated names in the sandbox namespace).
    #[arg(long, env = "OPENSHELL_DRIVER_IMAGE_PULL_SECRETS", value_delimiter = ',')]
    pub image_pull_secrets: Vec<String>,

    /// Timeout of every single Kubernetes API call.
    #[arg(long, env = "OPENSHELL_DRIVER_KUBE_API_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub kube_api_timeout: Duration,

    /// Time to live of a sandbox whose `driver_config.ttl` names none (`spec.shutdownTime` =
    /// create + TTL). `0s`: sandboxes never expire unless they ask.
    #[arg(long, env = "OPENSHELL_DRIVER_DEFAULT_TTL", default_value = "0s", value_parser = expiry::parse_default_ttl)]
    pub default_ttl: Duration,

    /// What happens to an expired Sandbox object (`spec.shutdownPolicy`); its pod always goes.
    /// `retain`: the gateway sees it stopped, reason SandboxExpired. `delete`: it is deleted.
    #[arg(long, env = "OPENSHELL_DRIVER_EXPIRY_POLICY", value_enum, default_value = "retain")]
    pub expiry_policy: expiry::ExpiryPolicy,

    /// How long StopSandbox waits for `Suspended=True` before DEADLINE_EXCEEDED.
    #[arg(long, env = "OPENSHELL_DRIVER_STOP_TIMEOUT", default_value = "120s", value_parser = parse_duration)]
    pub stop_timeout: Duration,

    /// How long a pod the scheduler cannot place stays Provisioning before the sandbox fails
    /// (`Unschedulable`); the scheduler's message is a platform event at once. 0s: at once.
    #[arg(long, env = "OPENSHELL_DRIVER_UNSCHEDULABLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub unschedulable_timeout: Duration,

    /// How long in-flight calls may run after SIGTERM/SIGINT.
    #[arg(long, env = "OPENSHELL_DRIVER_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Address of /healthz, /readyz and /metrics; empty turns them off.
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_METRICS_BIND_ADDRESS",
        default_value = "127.0.0.1:9090"
    )]
    pub metrics_bind_address: String,

    #[arg(long, env = "OPENSHELL_DRIVER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// Log filter (tracing EnvFilter syntax, e.g. `info,openshell_driver_openshift=debug`).
    #[arg(long, env = "OPENSHELL_DRIVER_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    // The settings of one concern each, in their own modules.
    #[command(flatten)]
    pub proxy: proxy::ProxyConfig,
    #[command(flatten)]
    pub topology: topology::TopologyConfig,
    #[command(flatten)]
    pub ingress: ingress::IngressConfig,
    #[command(flatten)]
    pub spiffe: spiffe::SpiffeConfig,
    #[command(flatten)]
    pub workspace_volume: workspace_volume::WorkspaceVolumeConfig,
    #[command(flatten)]
    pub openshift: OpenShiftConfig,

    /// Warm pools: a YAML file of pool profiles (docs/warm-pool.md). Each keeps that many
    /// started pods, and a create whose pod matches binds one instead of starting cold. Read
    /// at startup; a profile that cannot be rendered stops the driver, naming the field.
    #[arg(long, env = "OPENSHELL_DRIVER_WARM_POOL_CONFIG", default_value = "")]
    pub warm_pool_config: String,
    /// The profiles read from --warm-pool-config (`kubernetes::warm_pool::load`).
    #[arg(skip)]
    pub warm_profiles: Vec<warm_pool::PoolProfile>,
}

/// Which platform additions the driver makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlatformMode {
    /// OpenShift when the API server serves security.openshift.io/v1, else plain Kubernetes.
    Auto,
    /// Plain Kubernetes: no SCC, SELinux or Route additions; exposure is refused.
    Kubernetes,
    /// OpenShift, whatever discovery says.
    Openshift,
}

/// TLS termination of a sandbox's Route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteTls {
    /// TLS ends at the router; plain HTTP to the pod.
    Edge,
    /// TLS to the router and again from the router to the pod (service-serving certificate).
    Reencrypt,
    /// TLS passed through to the pod, which serves it itself.
    Passthrough,
}

impl RouteTls {
    pub fn as_route(self) -> &'static str {
        match self {
            Self::Edge => "edge",
            Self::Reencrypt => "reencrypt",
            Self::Passthrough => "passthrough",
        }
    }
}

/// Who may open an exposed sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExposeAuth {
    /// Anyone who reaches the Route.
    None,
    /// OpenShift users, through an oauth-proxy sidecar.
    Openshift,
}

/// OpenShift additions: SCC, SELinux, Routes and the OAuth proxy. Inactive on plain Kubernetes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "OpenShift")]
pub struct OpenShiftConfig {
    /// Platform additions: detected (auto), none (kubernetes) or forced (openshift).
    #[arg(long, env = "OPENSHELL_DRIVER_PLATFORM", value_enum, default_value = "auto")]
    pub platform: PlatformMode,

    /// SecurityContextConstraints sandbox pods ask for (`openshift.io/required-scc`) and that
    /// ValidateSandboxCreate checks the sandbox ServiceAccount may use.
    #[arg(long, env = "OPENSHELL_DRIVER_SCC", default_value = "openshell-sandbox")]
    pub scc: String,

    /// Managed workspace mode: the ClusterRole granting `use` of the SCC (deploy/openshift/scc.yaml)
    /// that the driver binds to the sandbox ServiceAccount in each workspace namespace. Empty: an
    /// admin grants it by hand (`oc adm policy add-scc-to-user`).
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_SCC_GRANT_CLUSTER_ROLE",
        default_value = "openshell-sandbox-scc"
    )]
    pub scc_grant_cluster_role: String,

    /// SELinux type of the agent container (e.g. `openshell_agent_t`); the level comes from
    /// the namespace's `openshift.io/sa.scc.mcs`. Empty: the platform default.
    #[arg(long, env = "OPENSHELL_DRIVER_SELINUX_TYPE", default_value = "")]
    pub selinux_type: String,

    /// Node label whose value names the SELinux type installed on that node (e.g.
    /// `openshell.ai/selinux-type=openshell_agent_t`). When nodes carry it, sandboxes use that
    /// type and are scheduled onto those nodes. Ignored when --selinux-type is set.
    #[arg(long, env = "OPENSHELL_DRIVER_SELINUX_DETECT_LABEL", default_value = "")]
    pub selinux_detect_label: String,

    /// Expose every sandbox on this port through a Route unless its `platform_config.expose`
    /// says otherwise. Unset: only sandboxes that ask are exposed.
    #[arg(long, env = "OPENSHELL_DRIVER_EXPOSE_PORT")]
    pub expose_port: Option<u16>,

    /// Default TLS termination of sandbox Routes.
    #[arg(long, env = "OPENSHELL_DRIVER_EXPOSE_TLS", value_enum, default_value = "edge")]
    pub expose_tls: RouteTls,

    /// Default authentication in front of exposed sandboxes.
    #[arg(long, env = "OPENSHELL_DRIVER_EXPOSE_AUTH", value_enum, default_value = "none")]
    pub expose_auth: ExposeAuth,

    /// Image of the oauth-proxy sidecar (`expose.auth: openshift`).
    #[arg(
        long,
        env = "OPENSHELL_DRIVER_OAUTH_PROXY_IMAGE",
        default_value = "quay.io/openshift/origin-oauth-proxy:4.17"
    )]
    pub oauth_proxy_image: String,
}

impl DriverConfig {
    /// A configuration with every default, for tests and `render`. The gateway endpoint, which
    /// `serve` requires, is a placeholder.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: DriverConfig,
        }
        // Parsing an empty command line cannot fail: every field has a default.
        let mut config = <Only as clap::Parser>::try_parse_from(["driver"])
            .map(|o| o.config)
            .unwrap_or_else(|e| panic!("driver defaults do not parse: {e}"));
        config.gateway_endpoint = OFFLINE_GATEWAY_ENDPOINT.into();
        config
    }

    /// Fills in the defaults that depend on the workspace mode (call once, after parsing).
    pub fn resolve_mode_defaults(&mut self) {
        if self.workspace_mode == WorkspaceMode::Managed && self.sandbox_service_account.is_empty() {
            self.sandbox_service_account = MANAGED_SANDBOX_SERVICE_ACCOUNT.into();
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
