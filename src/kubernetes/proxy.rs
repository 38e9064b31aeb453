//! Egress through a corporate proxy: the supervisor's `--upstream-proxy*` arguments and the
//! proxy credential as a root-only file from a Secret volume. The supervisor takes these only
//! as arguments (crates/openshell-sandbox/src/main.rs: no `env =`, so an image's `ENV` cannot
//! choose a proxy) and reads the credential from the file it is given
//! (crates/openshell-supervisor-network/src/upstream_proxy.rs). The credential is never in an
//! env value, a label, an annotation or a log line: the driver names the Secret, the kubelet
//! mounts it. Pure.

use k8s_openapi::api::core::v1::{KeyToPath, SecretVolumeSource, Volume, VolumeMount};

pub use crate::config::proxy::{ProxyConfig, parse_proxy_url};

/// The Secret volume holding the proxy credential, and where the agent container sees it (the
/// path upstream's drivers use, crates/openshell-core/src/container_paths.rs).
pub const PROXY_AUTH_VOLUME: &str = "openshell-upstream-proxy-auth";
pub const PROXY_AUTH_DIR: &str = "/etc/openshell/auth";
pub const PROXY_AUTH_FILE: &str = "upstream-proxy";

// What the setting renders; the flags and their startup checks are `config::proxy`'s.
impl ProxyConfig {
    /// The supervisor's arguments, in its own flag names.
    pub fn supervisor_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !self.enabled() {
            return args;
        }
        args.extend(["--upstream-proxy".into(), self.https_proxy.clone()]);
        if !self.no_proxy.trim().is_empty() {
            args.extend(["--upstream-no-proxy".into(), self.no_proxy.trim().to_string()]);
        }
        if self.has_credential() {
            args.extend([
                "--upstream-proxy-auth-file".into(),
                format!("{PROXY_AUTH_DIR}/{PROXY_AUTH_FILE}"),
            ]);
        }
        if self.proxy_auth_allow_insecure {
            args.push("--upstream-proxy-auth-allow-insecure".into());
        }
        if self.proxy_connect_by_hostname {
            args.push("--upstream-proxy-connect-by-hostname".into());
        }
        args
    }

    /// The credential's Secret volume: only its one key, as a root-only file.
    pub fn volume(&self) -> Option<Volume> {
        self.has_credential().then(|| Volume {
            name: PROXY_AUTH_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(self.proxy_auth_secret_name.clone()),
                default_mode: Some(0o400),
                items: Some(vec![KeyToPath {
                    key: self.proxy_auth_secret_key.clone(),
                    path: PROXY_AUTH_FILE.into(),
                    mode: None,
                }]),
                optional: Some(false),
            }),
            ..Default::default()
        })
    }

    pub fn mount(&self) -> Option<VolumeMount> {
        self.has_credential()
            .then(|| crate::kubernetes::mounts::mount(PROXY_AUTH_VOLUME, PROXY_AUTH_DIR, true))
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
