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
    /// The rule names one object (RBAC `resourceNames`); `check` asks about that object.
    pub object: NamedObject,
    pub why: &'static str,
}

/// Which single object a rule is limited to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedObject {
    Any,
    /// The sandbox namespace (`--namespace`).
    SandboxNamespace,
    /// The SCC sandbox pods use (`--scc`).
    Scc,
    /// The ClusterRole granting `use` of it (`--scc-grant-cluster-role`).
    SccGrantRole,
    /// The client TLS Secret (`--client-tls-secret`).
    ClientTlsSecret,
    /// The sandbox pods' ServiceAccount (`--sandbox-service-account`).
    SandboxServiceAccount,
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
        object: NamedObject::Any,
        why,
    }
}

const fn named(mut permission: Permission, object: NamedObject) -> Permission {
    permission.object = object;
    permission
}

const SANDBOX_RULES: [Permission; 11] = [
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
    p("list", "", "pods", true, "why a sandbox's pod cannot start"),
    p("watch", "", "pods", true, "why a sandbox's pod cannot start"),
];

/// The client TLS Secret is read (its three keys checked before a create) by name only.
const CLIENT_TLS_READ: Permission = named(
    p(
        "get",
        "",
        "secrets",
        true,
        "the client TLS Secret (--client-tls-secret)",
    ),
    NamedObject::ClientTlsSecret,
);

/// Managed mode keeps a copy of the client TLS Secret in each workspace namespace.
const CLIENT_TLS_COPY: Permission = named(
    p(
        "update",
        "",
        "secrets",
        false,
        "the client TLS Secret's copy in workspace namespaces",
    ),
    NamedObject::ClientTlsSecret,
);

/// Shared mode: the sandbox ServiceAccount must exist before a create.
const SANDBOX_SERVICE_ACCOUNT_READ: Permission = named(
    p(
        "get",
        "",
        "serviceaccounts",
        true,
        "the sandbox ServiceAccount exists (--sandbox-service-account)",
    ),
    NamedObject::SandboxServiceAccount,
);

/// Managed mode: the driver makes the sandbox ServiceAccount in each workspace namespace.
const SANDBOX_SERVICE_ACCOUNT_CREATE: Permission = p(
    "create",
    "",
    "serviceaccounts",
    false,
    "the sandbox ServiceAccount in workspace namespaces",
);

const NODES: [Permission; 2] = [
    p(
        "list",
        "",
        "nodes",
        false,
        "GPU capacity and SELinux node labels (Node watch)",
    ),
    p(
        "watch",
        "",
        "nodes",
        false,
        "GPU capacity and SELinux node labels (Node watch)",
    ),
];

const NAMESPACE_RULES: [Permission; 3] = [
    p("get", "", "namespaces", false, "workspace namespaces"),
    p("create", "", "namespaces", false, "workspace namespaces"),
    p("delete", "", "namespaces", false, "DeleteWorkspace"),
];

/// On OpenShift, besides the above (deploy/openshift/rbac*.yaml).
const OPENSHIFT_RULES: [Permission; 6] = [
    p("create", "", "services", true, "the Service of an exposed sandbox"),
    p(
        "create",
        "route.openshift.io",
        "routes",
        true,
        "the Route of an exposed sandbox",
    ),
    p("list", "route.openshift.io", "routes", true, "Route hosts and refusals"),
    p(
        "watch",
        "route.openshift.io",
        "routes",
        true,
        "Route hosts and refusals",
    ),
    p(
        "create",
        "route.openshift.io",
        "routes/custom-host",
        true,
        "a Route with expose.host",
    ),
    p(
        "patch",
        "",
        "serviceaccounts",
        true,
        "the OAuth redirect of auth: openshift",
    ),
];

const OPENSHIFT_CLUSTER_RULES: [Permission; 2] = [
    named(
        p(
            "get",
            "security.openshift.io",
            "securitycontextconstraints",
            false,
            "the SCC preflight",
        ),
        NamedObject::Scc,
    ),
    p(
        "create",
        "authorization.k8s.io",
        "subjectaccessreviews",
        false,
        "may the sandbox ServiceAccount use the SCC",
    ),
];

const SANDBOX_NAMESPACE_READ: Permission = named(
    p("get", "", "namespaces", false, "the namespace's SCC annotations"),
    NamedObject::SandboxNamespace,
);

/// Managed mode on OpenShift: the driver grants the SCC in the namespaces it creates.
const OPENSHIFT_MANAGED_RULES: [Permission; 2] = [
    p(
        "create",
        "rbac.authorization.k8s.io",
        "rolebindings",
        false,
        "the SCC grant in workspace namespaces",
    ),
    named(
        p(
            "bind",
            "rbac.authorization.k8s.io",
            "clusterroles",
            false,
            "the SCC grant in workspace namespaces",
        ),
        NamedObject::SccGrantRole,
    ),
];

/// Everything the driver needs in `mode`, with the OpenShift additions when `openshift`.
pub fn required(mode: WorkspaceMode, openshift: bool) -> Vec<Permission> {
    let mut all: Vec<Permission> = SANDBOX_RULES.to_vec();
    all.push(CLIENT_TLS_READ);
    if openshift {
        all.extend(OPENSHIFT_RULES);
    }
    if mode == WorkspaceMode::Managed {
        for rule in &mut all {
            rule.namespaced = false;
        }
        all.extend(NAMESPACE_RULES);
        all.push(CLIENT_TLS_COPY);
        all.push(SANDBOX_SERVICE_ACCOUNT_CREATE);
    } else {
        all.push(SANDBOX_SERVICE_ACCOUNT_READ);
        if openshift {
            all.push(SANDBOX_NAMESPACE_READ);
        }
    }
    all.extend(NODES);
    if openshift {
        all.extend(OPENSHIFT_CLUSTER_RULES);
        if mode == WorkspaceMode::Managed {
            all.extend(OPENSHIFT_MANAGED_RULES);
        }
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

    fn needed(mode: WorkspaceMode, openshift: bool) -> BTreeSet<(String, String, String, bool)> {
        required(mode, openshift)
            .iter()
            .map(|p| (p.verb.into(), p.group.into(), p.resource.into(), p.namespaced))
            .collect()
    }

    #[test]
    fn deploy_rbac_grants_exactly_what_the_driver_needs() {
        let both = |a: &str, b: &str| granted(a).union(&granted(b)).cloned().collect::<BTreeSet<_>>();
        assert_eq!(granted("deploy/rbac.yaml"), needed(WorkspaceMode::Shared, false));
        assert_eq!(
            granted("deploy/rbac-managed.yaml"),
            needed(WorkspaceMode::Managed, false)
        );
        assert_eq!(
            both("deploy/rbac.yaml", "deploy/openshift/rbac.yaml"),
            needed(WorkspaceMode::Shared, true)
        );
        assert_eq!(
            both("deploy/rbac-managed.yaml", "deploy/openshift/rbac-managed.yaml"),
            needed(WorkspaceMode::Managed, true)
        );
    }
}
