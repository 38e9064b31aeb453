//! `--gateway-ingress-only`, `--gateway-namespace`, `--gateway-pod-selector`: the flags and their
//! startup check. The NetworkPolicy they render is `kubernetes::ingress`'s.

use clap::Args;

use crate::grammar;

fn parse_selector_entry(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected KEY=VALUE"))?;
    grammar::validate_label_key("--gateway-pod-selector", key).map_err(|e| e.to_string())?;
    grammar::validate_label_value("--gateway-pod-selector", key, value).map_err(|e| e.to_string())?;
    Ok((key.to_string(), value.to_string()))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct IngressConfig {
    /// Give every sandbox a NetworkPolicy that admits only the gateway's pods
    /// (--gateway-namespace, --gateway-pod-selector), on TCP 2222; all other ingress is refused.
    #[arg(long, env = "OPENSHELL_DRIVER_GATEWAY_INGRESS_ONLY")]
    pub gateway_ingress_only: bool,

    /// Namespace of the gateway's pods (--gateway-ingress-only).
    #[arg(long, env = "OPENSHELL_DRIVER_GATEWAY_NAMESPACE", default_value = "")]
    pub gateway_namespace: String,

    /// Labels of the gateway's pods, comma separated KEY=VALUE (--gateway-ingress-only).
    #[arg(long, env = "OPENSHELL_DRIVER_GATEWAY_POD_SELECTOR", value_delimiter = ',', value_parser = parse_selector_entry)]
    pub gateway_pod_selector: Vec<(String, String)>,
}

impl IngressConfig {
    /// What `serve` refuses to start with, naming the flag.
    pub fn validate(&self) -> Result<(), String> {
        if !self.gateway_ingress_only {
            if !self.gateway_namespace.is_empty() || !self.gateway_pod_selector.is_empty() {
                return Err(
                    "--gateway-namespace and --gateway-pod-selector take effect only with --gateway-ingress-only"
                        .into(),
                );
            }
            return Ok(());
        }
        if !grammar::is_dns_label(&self.gateway_namespace) {
            return Err(format!(
                "--gateway-ingress-only needs --gateway-namespace, a namespace name (got {:?})",
                self.gateway_namespace
            ));
        }
        if self.gateway_pod_selector.is_empty() {
            return Err("--gateway-ingress-only needs --gateway-pod-selector (KEY=VALUE of the gateway's pods): without it every pod of the namespace would be let in".into());
        }
        Ok(())
    }
}
