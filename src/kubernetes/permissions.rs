//! The Kubernetes permissions the driver needs: one table, checked by `check` (through
//! SelfSubjectAccessReview) and kept equal to deploy/rbac*.yaml by a test.

use crate::config::WorkspaceMode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    /// Namespaced in shared mode (checked in the sandbox namespace); cluster-wide otherwise.
    pub namespaced: bool,
    pub why: &'static str,
}

const fn p(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespaced: bool,
    why: &'static str,
) -> Permission {
    Permission {
        verb,
        group,
        resource,
        namespaced,
        why,
    }
}

const SANDBOX_RULES: [Permission; 9] = [
    p(
        "get",
        "agents.x-k8s.io",
        "sandboxes",
        true,
        "read a Sandbox on a create retry",
    ),
    p("list", "agents.x-k8s.io", "sandboxes", true, "fill the cache"),
    p("watch", "agents.x-k8s.io", "sandboxes", true, "follow changes"),
    p("create", "agents.x-k8s.io", "sandboxes", true, "CreateSandbox"),
    p(
        "patch",
        "agents.x-k8s.io",
        "sandboxes",
        true,
        "StopSandbox / StartSandbox",
    ),
    p("delete", "agents.x-k8s.io", "sandboxes", true, "DeleteSandbox"),
    p("create", "", "secrets", true, "the sandbox token Secret"),
    p("list", "", "events", true, "platform events"),
    p("watch", "", "events", true, "platform events"),
];

const NODES: Permission = p("list", "", "nodes", false, "GPU capacity in ValidateSandboxCreate");

const NAMESPACE_RULES: [Permission; 3] = [
    p("get", "", "namespaces", false, "workspace namespaces"),
    p("create", "", "namespaces", false, "workspace namespaces"),
    p("delete", "", "namespaces", false, "DeleteWorkspace"),
];

/// Everything the driver needs in `mode`.
pub fn required(mode: WorkspaceMode) -> Vec<Permission> {
    let mut all: Vec<Permission> = SANDBOX_RULES.to_vec();
    all.push(NODES);
    if mode == WorkspaceMode::Managed {
        for rule in &mut all {
            rule.namespaced = false;
        }
        all.extend(NAMESPACE_RULES);
    }
    all
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Deserialize;

    use super::*;

    /// (verb, group, resource, namespaced) granted by the Roles and ClusterRoles of a file.
    fn granted(file: &str) -> BTreeSet<(String, String, String, bool)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let text = std::fs::read_to_string(path).expect("rbac file");
        let mut out = BTreeSet::new();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = serde_yaml::Value::deserialize(doc).expect("yaml");
            let kind = v["kind"].as_str().unwrap_or_default();
            if kind != "Role" && kind != "ClusterRole" {
                continue;
            }
            for rule in v["rules"].as_sequence().into_iter().flatten() {
                let strings = |k: &str| {
                    rule[k]
                        .as_sequence()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect::<Vec<_>>()
                };
                for group in strings("apiGroups") {
                    for resource in strings("resources") {
                        for verb in strings("verbs") {
                            out.insert((verb, group.clone(), resource.clone(), kind == "Role"));
                        }
                    }
                }
            }
        }
        out
    }

    fn needed(mode: WorkspaceMode) -> BTreeSet<(String, String, String, bool)> {
        required(mode)
            .iter()
            .map(|p| (p.verb.into(), p.group.into(), p.resource.into(), p.namespaced))
            .collect()
    }

    #[test]
    fn deploy_rbac_grants_exactly_what_the_driver_needs() {
        assert_eq!(granted("deploy/rbac.yaml"), needed(WorkspaceMode::Shared));
        assert_eq!(granted("deploy/rbac-managed.yaml"), needed(WorkspaceMode::Managed));
    }
}
