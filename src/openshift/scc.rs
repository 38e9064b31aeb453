//! The SecurityContextConstraints side: would an SCC admit sandbox pods, and the RoleBinding that
//! lets a sandbox ServiceAccount use it. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodSpec;

use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::ExposeAuth;
use crate::openshift::pod::OpenShiftPlan;

/// Name of the RoleBinding the driver makes in a workspace namespace (managed mode).
pub const SCC_GRANT_BINDING: &str = "openshell-sandbox-scc";

/// The SCC volume types (its `volumes:` names) a pod uses: each volume's source field, e.g.
/// `image` for the supervisor delivered by image volume, `persistentVolumeClaim` for a mount.
pub fn volume_types(pod: &PodSpec) -> BTreeSet<String> {
    pod.volumes
        .iter()
        .flatten()
        .filter_map(|v| serde_json::to_value(v).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .filter(|k| k != "name")
        .collect()
}

/// The volume types of the pod the controller makes from `spec`: the template's, and a
/// claim for each of the Sandbox's `volumeClaimTemplates`.
pub fn sandbox_volume_types(spec: &crate::kubernetes::render::SandboxSpec) -> BTreeSet<String> {
    let mut types = volume_types(&spec.pod_template.spec);
    if spec.volume_claim_templates.as_ref().is_some_and(|t| !t.is_empty()) {
        types.insert("persistentVolumeClaim".into());
    }
    types
}

/// Why an SCC would not admit the sandbox pod (empty: it would). Reads the SCC as stored;
/// `pod_volumes` are the rendered pod's volume types (`volume_types`).
pub fn scc_problems(
    scc: &serde_json::Value,
    plan: &OpenShiftPlan,
    capabilities: &[&str],
    pod_volumes: &BTreeSet<String>,
) -> Vec<String> {
    let strings = |key: &str| -> Vec<String> {
        scc[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let mut problems = Vec::new();
    let allowed = [strings("allowedCapabilities"), strings("defaultAddCapabilities")].concat();
    let dropped = strings("requiredDropCapabilities");
    for cap in capabilities {
        let cap = cap.to_string();
        if dropped.contains(&cap) || dropped.iter().any(|d| d == "ALL") {
            problems.push(format!("it drops {cap}"));
        } else if !allowed.contains(&cap) && !allowed.iter().any(|a| a == "*") {
            problems.push(format!("it does not allow {cap}"));
        }
    }
    if scc["runAsUser"]["type"].as_str() != Some("RunAsAny") {
        problems.push("runAsUser is not RunAsAny (the supervisor starts as root)".into());
    }
    let volumes = strings("volumes");
    let mut needed = pod_volumes.clone();
    // The OAuth proxy's volumes are added after this check (apply_plan).
    if plan.exposure.as_ref().is_some_and(|e| e.auth == ExposeAuth::Openshift) {
        needed.extend(["projected".to_string(), "secret".to_string()]);
    }
    for volume in &needed {
        if !volumes.iter().any(|v| v == volume || v == "*") {
            problems.push(format!("it does not allow {volume} volumes"));
        }
    }
    if let Some(wanted) = plan.selinux.as_ref().and_then(|s| s.type_.as_deref()) {
        let context = &scc["seLinuxContext"];
        let fixed = context["seLinuxOptions"]["type"].as_str();
        if context["type"].as_str() != Some("RunAsAny") && fixed != Some(wanted) {
            problems.push(format!(
                "seLinuxContext neither is RunAsAny nor fixes type {wanted} (found {})",
                fixed.unwrap_or("no type")
            ));
        }
    }
    problems
}

/// What `oc adm policy add-scc-to-user` would make: `cluster_role` (granting `use` of the SCC)
/// bound to the sandbox ServiceAccount in `namespace`.
pub fn scc_grant(
    namespace: &str,
    service_account: &str,
    cluster_role: &str,
    labels: BTreeMap<String, String>,
) -> RoleBinding {
    RoleBinding {
        metadata: ObjectMeta {
            name: Some(SCC_GRANT_BINDING.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: cluster_role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: service_account.into(),
            namespace: Some(namespace.into()),
            api_group: None,
        }]),
    }
}

#[cfg(test)]
#[path = "scc_tests.rs"]
mod tests;
