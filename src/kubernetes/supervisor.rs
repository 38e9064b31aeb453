//! The supervisor contract: everything the agent container gives the OpenShell supervisor
//! (`openshell-sandbox`, PID 1 of the container), in one place. Each value comes from the
//! supervisor's own source; `docs/supervisor-contract.md` names the line for every row, and
//! the render tests check every row. Pure: rendering reads these, nothing here does I/O.

use std::collections::{BTreeMap, HashMap};

use crate::config::{AppArmor, DriverConfig, SandboxAuth};
use crate::error::DriverError;
use crate::kubernetes::identity::SandboxIdentity;
use crate::proto::DriverSandboxSpec;

/// emptyDir the init container copies the supervisor into; the agent mounts it read-only.
pub const SUPERVISOR_VOLUME: &str = "openshell-supervisor";
pub const SUPERVISOR_FILE: &str = "openshell-sandbox";
/// Writable emptyDir for the supervisor's runtime files (the SSH socket).
pub const RUNTIME_VOLUME: &str = "openshell-run";
pub const RUNTIME_DIR: &str = "/run/openshell";
/// The embedded SSH server's socket; without it the supervisor opens no session to the
/// gateway, and the gateway never reports the sandbox Ready.
pub const SSH_SOCKET_PATH: &str = "/run/openshell/ssh.sock";
/// The client TLS Secret (`--client-tls-secret`), read-only, 0400.
pub const TLS_VOLUME: &str = "openshell-client-tls";
pub const TLS_DIR: &str = "/etc/openshell-tls/client";
pub const TLS_CA_KEY: &str = "ca.crt";
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";
pub const TLS_SECRET_KEYS: [&str; 3] = [TLS_CA_KEY, TLS_CERT_KEY, TLS_KEY_KEY];
/// The sandbox's identity for the gateway: the token Secret (`--sandbox-auth token-file`) or
/// the projected ServiceAccount token (`service-account`), as the file `token` in this directory.
pub const IDENTITY_VOLUME: &str = "openshell-identity";
pub const IDENTITY_DIR: &str = "/var/run/secrets/openshell";
pub const TOKEN_KEY: &str = "token";
pub const TOKEN_PATH: &str = "/var/run/secrets/openshell/token";
/// Working directory of the agent's processes.
pub const WORKDIR: &str = "/sandbox";
/// Pod annotation the gateway's ServiceAccount check reads to learn which sandbox a pod is.
pub const SANDBOX_ID_ANNOTATION: &str = "openshell.io/sandbox-id";
pub use crate::config::DEFAULT_SANDBOX_ID;
/// The supervisor's own default log level, rendered so that an image cannot choose another.
pub const DEFAULT_LOG_LEVEL: &str = "warn";
/// Root with exactly these: network namespace and mounts (SYS_ADMIN), veth, routes and nft
/// (NET_ADMIN), the binary identity of peers through /proc (SYS_PTRACE), and the kernel log
/// for denial reports (SYSLOG). Never `privileged`.
pub const AGENT_CAPABILITIES: [&str; 4] = ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"];
/// Inside a user namespace (`host_users: false`) root needs these too, to drop to the sandbox
/// user and to read files it does not own while it sets up.
pub const USER_NAMESPACE_CAPABILITIES: [&str; 3] = ["SETUID", "SETGID", "DAC_READ_SEARCH"];

/// The variables the supervisor reads (crates/openshell-core/src/sandbox_env.rs and the
/// `env = ...` arguments of crates/openshell-sandbox/src/main.rs).
pub mod var {
    pub const SANDBOX_ID: &str = "OPENSHELL_SANDBOX_ID";
    pub const SANDBOX: &str = "OPENSHELL_SANDBOX";
    pub const ENDPOINT: &str = "OPENSHELL_ENDPOINT";
    pub const MAIN_PROCESS_SPEC: &str = "OPENSHELL_MAIN_PROCESS_SPEC";
    pub const LOG_LEVEL: &str = "OPENSHELL_LOG_LEVEL";
    pub const SSH_SOCKET_PATH: &str = "OPENSHELL_SSH_SOCKET_PATH";
    pub const TLS_CA: &str = "OPENSHELL_TLS_CA";
    pub const TLS_CERT: &str = "OPENSHELL_TLS_CERT";
    pub const TLS_KEY: &str = "OPENSHELL_TLS_KEY";
    pub const SANDBOX_TOKEN_FILE: &str = "OPENSHELL_SANDBOX_TOKEN_FILE";
    pub const K8S_SA_TOKEN_FILE: &str = "OPENSHELL_K8S_SA_TOKEN_FILE";
    pub const USER_ENVIRONMENT: &str = "OPENSHELL_USER_ENVIRONMENT";
    pub const SANDBOX_UID: &str = "OPENSHELL_SANDBOX_UID";
    pub const SANDBOX_GID: &str = "OPENSHELL_SANDBOX_GID";
    pub const OCI_IMAGE_USER: &str = "OPENSHELL_OCI_IMAGE_USER";
    pub const NETWORK_RUNTIME_CAPABILITIES: &str = "OPENSHELL_NETWORK_RUNTIME_CAPABILITIES";
}

/// What the contract needs from one request.
pub struct ContractInputs<'a> {
    pub identity: &'a SandboxIdentity,
    pub spec: &'a DriverSandboxSpec,
    pub config: &'a DriverConfig,
}

/// The supervisor's arguments after its path: the workdir, then the corporate proxy's (which
/// it takes as arguments only, never from the environment).
pub fn supervisor_args(config: &DriverConfig) -> Vec<String> {
    let mut args = vec!["--workdir".into(), WORKDIR.into()];
    args.extend(config.proxy.supervisor_args());
    args
}

/// The gateway endpoint, checked against what the supervisor can use: it exits without one,
/// and for `https` it trusts only the CA it is given.
pub fn checked_endpoint(config: &DriverConfig) -> Result<&str, DriverError> {
    let endpoint = config.gateway_endpoint.trim();
    if endpoint.is_empty() {
        return Err(DriverError::FailedPrecondition(
            "the driver has no --gateway-endpoint (OPENSHELL_DRIVER_GATEWAY_ENDPOINT): the supervisor cannot reach the gateway".into(),
        ));
    }
    if endpoint.starts_with("https://") && config.client_tls_secret.is_empty() {
        return Err(DriverError::FailedPrecondition(format!(
            "--gateway-endpoint {endpoint} is https, but the driver has no --client-tls-secret (OPENSHELL_DRIVER_CLIENT_TLS_SECRET): the supervisor trusts only the CA it is given"
        )));
    }
    Ok(endpoint)
}

/// The user's environment for the supervisor's children: template env, then spec env, which
/// wins. The SSH and exec children start from an empty environment plus exactly this map.
pub fn user_environment(
    template: &HashMap<String, String>,
    spec: &HashMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = template.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    env.extend(spec.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Every variable the driver renders for the supervisor. These win over the image's and the
/// request's values of the same name.
pub fn supervisor_env(inputs: &ContractInputs<'_>) -> Result<BTreeMap<String, String>, DriverError> {
    let ContractInputs { identity, spec, config } = inputs;
    let endpoint = checked_endpoint(config)?;
    let template = spec.template.clone().unwrap_or_default();
    let user_env = user_environment(&template.environment, &spec.environment);
    let process = serde_json::json!({"version": 1, "command": spec.command, "tty": spec.tty});
    let log_level = if spec.log_level.is_empty() {
        DEFAULT_LOG_LEVEL
    } else {
        spec.log_level.as_str()
    };
    let uid = config.sandbox_uid.unwrap_or(DEFAULT_SANDBOX_ID);
    let gid = config.sandbox_gid.unwrap_or(DEFAULT_SANDBOX_ID);
    let user_env_json = serde_json::to_string(&user_env)
        .map_err(|e| DriverError::Internal(format!("encoding the user environment: {e}")))?;
    let mut env = BTreeMap::from([
        (var::SANDBOX_ID, identity.id.clone()),
        (var::SANDBOX, identity.name.clone()),
        (var::ENDPOINT, endpoint.to_string()),
        (var::MAIN_PROCESS_SPEC, process.to_string()),
        (var::LOG_LEVEL, log_level.to_string()),
        (var::SSH_SOCKET_PATH, SSH_SOCKET_PATH.to_string()),
        (var::USER_ENVIRONMENT, user_env_json),
        (var::SANDBOX_UID, uid.to_string()),
        (var::SANDBOX_GID, gid.to_string()),
        // The driver's numeric identity is authoritative: the image's USER is not consulted.
        (var::OCI_IMAGE_USER, String::new()),
        // No optional network substrate is offered, whatever the image claims.
        (var::NETWORK_RUNTIME_CAPABILITIES, String::new()),
    ]);
    if !config.client_tls_secret.is_empty() {
        env.insert(var::TLS_CA, format!("{TLS_DIR}/{TLS_CA_KEY}"));
        env.insert(var::TLS_CERT, format!("{TLS_DIR}/{TLS_CERT_KEY}"));
        env.insert(var::TLS_KEY, format!("{TLS_DIR}/{TLS_KEY_KEY}"));
    }
    match config.sandbox_auth {
        SandboxAuth::ServiceAccount => {
            env.insert(var::K8S_SA_TOKEN_FILE, TOKEN_PATH.to_string());
        }
        SandboxAuth::TokenFile if !spec.sandbox_token.is_empty() => {
            env.insert(var::SANDBOX_TOKEN_FILE, TOKEN_PATH.to_string());
        }
        SandboxAuth::TokenFile => {}
    }
    env.extend(config.spiffe.env());
    Ok(env.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// A create must leave the supervisor a way to prove who it is. Only CreateSandbox carries
/// the gateway's token, so ValidateSandboxCreate cannot check this.
pub fn require_token_source(spec: &DriverSandboxSpec, config: &DriverConfig) -> Result<(), DriverError> {
    if config.sandbox_auth == SandboxAuth::TokenFile && spec.sandbox_token.is_empty() {
        return Err(DriverError::FailedPrecondition(
            "--sandbox-auth token-file needs the gateway's sandbox token, and this create carries none: turn on the gateway's sandbox JWTs ([openshell.gateway.gateway_jwt]) or run the driver with --sandbox-auth service-account".into(),
        ));
    }
    Ok(())
}

/// The files of a client TLS Secret the supervisor would not find (absent or empty).
pub fn missing_tls_keys(secret: &k8s_openapi::api::core::v1::Secret) -> Vec<&'static str> {
    let data = secret.data.as_ref();
    TLS_SECRET_KEYS
        .into_iter()
        .filter(|k| data.and_then(|d| d.get(*k)).is_none_or(|v| v.0.is_empty()))
        .collect()
}

/// Capabilities of the agent container; a user namespace needs three more.
pub fn agent_capabilities(host_users: Option<bool>) -> Vec<String> {
    let extra: &[&str] = if host_users == Some(false) {
        &USER_NAMESPACE_CAPABILITIES
    } else {
        &[]
    };
    AGENT_CAPABILITIES.iter().chain(extra).map(|c| c.to_string()).collect()
}

/// The agent container's AppArmor profile, as the securityContext field.
pub fn app_armor_profile(profile: &AppArmor) -> Option<k8s_openapi::api::core::v1::AppArmorProfile> {
    use k8s_openapi::api::core::v1::AppArmorProfile;
    let (type_, localhost_profile) = match profile {
        AppArmor::Unset => return None,
        AppArmor::RuntimeDefault => ("RuntimeDefault", None),
        AppArmor::Unconfined => ("Unconfined", None),
        AppArmor::Localhost(name) => ("Localhost", Some(name.clone())),
    };
    Some(AppArmorProfile {
        type_: type_.into(),
        localhost_profile,
    })
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
