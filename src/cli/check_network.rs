//! `check` lines for the network settings: the corporate proxy's credential Secret and the
//! gateway-only ingress.

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;

use crate::cli::check_line::{CheckLine, Verdict, line};
use crate::config::DriverConfig;
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;

/// `--https-proxy`: where egress goes, and whether the credential's Secret and key exist in
/// the sandbox namespace (the kubelet mounts it; a missing one leaves every pod unstarted).
/// The credential's value is never shown.
pub(crate) async fn proxy_line(kube: &KubeCalls, config: &DriverConfig) -> Option<CheckLine> {
    let proxy = &config.proxy;
    if !proxy.enabled() {
        return None;
    }
    if !proxy.has_credential() {
        return Some(line(
            "upstream-proxy",
            Verdict::Pass,
            format!("egress through {} without a credential", proxy.https_proxy),
        ));
    }
    let (name, key) = (&proxy.proxy_auth_secret_name, &proxy.proxy_auth_secret_key);
    let secrets: Api<Secret> = Api::namespaced(kube.client.clone(), &config.namespace);
    Some(match kube.call("get", "secrets", secrets.get(name)).await {
        Ok(secret) => {
            let present = secret
                .data
                .as_ref()
                .and_then(|d| d.get(key))
                .is_some_and(|v| !v.0.is_empty());
            if present {
                line(
                    "upstream-proxy",
                    Verdict::Pass,
                    format!(
                        "egress through {} with the credential in {name}/{key}",
                        proxy.https_proxy
                    ),
                )
            } else {
                line(
                    "upstream-proxy",
                    Verdict::Fail,
                    format!("{name} has no key {key} (or it is empty)"),
                )
            }
        }
        Err(DriverError::NotFound(_)) => line(
            "upstream-proxy",
            Verdict::Fail,
            format!("{name} does not exist in {}", config.namespace),
        ),
        Err(e) => line("upstream-proxy", Verdict::Warn, format!("{name}: cannot tell ({e})")),
    })
}

/// Flag combinations `serve` would refuse to start with.
pub(crate) fn settings_line(config: &DriverConfig) -> CheckLine {
    match crate::kubernetes::settings::check_settings(config) {
        Ok(()) => line("settings", Verdict::Pass, "the flags fit together"),
        Err(e) => line("settings", Verdict::Fail, e),
    }
}
