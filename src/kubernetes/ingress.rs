//! Ingress only from the gateway (upstream's managed SSH ingress): a NetworkPolicy per sandbox,
//! owned by its Sandbox so the garbage collector removes it, that selects the sandbox's pod by
//! its id label and admits only the gateway's pods, on TCP 2222, the port upstream's driver
//! opens for them (`DEFAULT_SSH_PORT`, crates/openshell-core/src/config.rs). Everything else
//! that would reach the pod is refused; egress stays the supervisor's job. Pure.

use std::collections::BTreeMap;

use clap::Args;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::kubernetes::identity::{LABEL_SANDBOX_ID, SandboxIdentity, driver_labels};
use crate::kubernetes::permissions::{Permission, p};

/// The one port gateway pods may reach (upstream's SSH port).
pub const GATEWAY_INGRESS_PORT: i32 = 2222;
/// The label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The driver creates the policy next to each Sandbox; the Sandbox's deletion removes it.
pub const NETWORK_POLICY_CREATE: Permission = p(
    "create",
    "networking.k8s.io",
    "networkpolicies",
    true,
    "the gateway-only NetworkPolicy of each sandbox (--gateway-ingress-only)",
);

fn parse_selector_entry(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected KEY=VALUE"))?;
    crate::kubernetes::validation::validate_label_key("--gateway-pod-selector", key).map_err(|e| e.to_string())?;
    crate::kubernetes::validation::validate_label_value("--gateway-pod-selector", key, value)
        .map_err(|e| e.to_string())?;
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
        if !crate::kubernetes::validation::is_dns_label(&self.gateway_namespace) {
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

    /// The sandbox's NetworkPolicy, without its owner (set once the Sandbox exists).
    pub fn network_policy(&self, identity: &SandboxIdentity, gateway_id: &str) -> Option<NetworkPolicy> {
        if !self.gateway_ingress_only {
            return None;
        }
        let selector = |labels: BTreeMap<String, String>| LabelSelector {
            match_labels: Some(labels),
            ..Default::default()
        };
        Some(NetworkPolicy {
            metadata: ObjectMeta {
                name: Some(policy_name(identity)),
                namespace: Some(identity.namespace.clone()),
                labels: Some(driver_labels(identity, gateway_id)),
                ..Default::default()
            },
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(selector(BTreeMap::from([(
                    LABEL_SANDBOX_ID.to_string(),
                    identity.id.clone(),
                )]))),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: Some(vec![NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        namespace_selector: Some(selector(BTreeMap::from([(
                            NAMESPACE_NAME_LABEL.to_string(),
                            self.gateway_namespace.clone(),
                        )]))),
                        pod_selector: Some(selector(self.gateway_pod_selector.iter().cloned().collect())),
                        ..Default::default()
                    }]),
                    ports: Some(vec![NetworkPolicyPort {
                        port: Some(IntOrString::Int(GATEWAY_INGRESS_PORT)),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    }]),
                }]),
                ..Default::default()
            }),
        })
    }
}

/// `{object}-gateway-ingress`, like the token Secret's name beside it.
pub fn policy_name(identity: &SandboxIdentity) -> String {
    format!("{}-gateway-ingress", identity.object_name)
}

#[cfg(test)]
#[path = "ingress_tests.rs"]
mod tests;
