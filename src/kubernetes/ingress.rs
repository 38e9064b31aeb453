//! Ingress only from the gateway (upstream's managed SSH ingress): a NetworkPolicy per sandbox,
//! owned by its Sandbox so the garbage collector removes it, that selects the sandbox's pod by
//! its id label and admits only the gateway's pods, on TCP 2222, the port upstream's driver
//! opens for them (`DEFAULT_SSH_PORT`, crates/openshell-core/src/config.rs). Everything else
//! that would reach the pod is refused; egress stays the supervisor's job. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use crate::config::ingress::IngressConfig;
use crate::kubernetes::identity::{LABEL_SANDBOX_ID, SandboxIdentity, driver_labels};

/// The one port gateway pods may reach (upstream's SSH port).
pub const GATEWAY_INGRESS_PORT: i32 = 2222;
/// The label every namespace carries with its own name.
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

// What the setting renders; the flags and their startup check are `config::ingress`'s.
impl IngressConfig {
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
