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
    /// Each Secret copied into workspace namespaces (`kubernetes::copies`): the client TLS
    /// Secret and the image-pull Secrets. `check` asks about each.
    CopiedSecrets,
}

pub const fn p(
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

pub const fn named(mut permission: Permission, object: NamedObject) -> Permission {
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

/// A watch of the client TLS Secret alone spares each create and validate the lookup.
const CLIENT_TLS_WATCH: [Permission; 2] = [
    named(
        p("list", "", "secrets", true, "the client TLS Secret's watch"),
        NamedObject::ClientTlsSecret,
    ),
    named(
        p("watch", "", "secrets", true, "the client TLS Secret's watch"),
        NamedObject::ClientTlsSecret,
    ),
];

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

/// Shared mode: a watch of the sandbox ServiceAccount alone spares creates the lookup.
const SANDBOX_SERVICE_ACCOUNT_WATCH: [Permission; 2] = [
    named(
        p(
            "list",
            "",
            "serviceaccounts",
            true,
            "the sandbox ServiceAccount's watch",
        ),
        NamedObject::SandboxServiceAccount,
    ),
    named(
        p(
            "watch",
            "",
            "serviceaccounts",
            true,
            "the sandbox ServiceAccount's watch",
        ),
        NamedObject::SandboxServiceAccount,
    ),
];

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

/// Managed mode copies the client TLS and image-pull Secrets into each workspace namespace and
/// keeps them equal to their sources: a watch of each source by name, the copies' writes, and
/// their removal when a source is deleted.
const COPY_RULES: [Permission; 5] = [
    named(
        p("get", "", "secrets", false, "the copied Secrets and their copies"),
        NamedObject::CopiedSecrets,
    ),
    named(
        p("list", "", "secrets", false, "the watch of each copied Secret's source"),
        NamedObject::CopiedSecrets,
    ),
    named(
        p(
            "watch",
            "",
            "secrets",
            false,
            "the watch of each copied Secret's source",
        ),
        NamedObject::CopiedSecrets,
    ),
    named(
        p("update", "", "secrets", false, "a copy follows its source"),
        NamedObject::CopiedSecrets,
    ),
    named(
        p("delete", "", "secrets", false, "a copy goes with its source"),
        NamedObject::CopiedSecrets,
    ),
];

const NAMESPACE_RULES: [Permission; 4] = [
    p("get", "", "namespaces", false, "workspace namespaces"),
    p(
        "list",
        "",
        "namespaces",
        false,
        "the workspace namespaces a source's copies are in",
    ),
    p("create", "", "namespaces", false, "workspace namespaces"),
    p("delete", "", "namespaces", false, "DeleteWorkspace"),
];

/// Operator mode: the allowlist's Namespace watch (`--operator-namespace-label`). No create or
/// delete: the platform team owns the namespaces.
const OPERATOR_NAMESPACE_RULES: [Permission; 2] = [
    p(
        "list",
        "",
        "namespaces",
        false,
        "the operator namespace allowlist (label watch)",
    ),
    p(
        "watch",
        "",
        "namespaces",
        false,
        "the operator namespace allowlist (label watch)",
    ),
];

/// Everything the driver needs in `mode` on plain Kubernetes (OpenShift adds
/// `openshift::permissions`).
pub fn required(mode: WorkspaceMode) -> Vec<Permission> {
    let mut all: Vec<Permission> = SANDBOX_RULES.to_vec();
    if mode != WorkspaceMode::Managed {
        all.push(CLIENT_TLS_READ);
        all.extend(CLIENT_TLS_WATCH);
    }
    all.push(NETWORK_POLICY_CREATE);
    all.extend(CLAIM_RULES);
    match mode {
        WorkspaceMode::Managed => {
            all = cluster_wide(all);
            all.extend(COPY_RULES);
            all.extend(NAMESPACE_RULES);
            all.push(SANDBOX_SERVICE_ACCOUNT_CREATE);
        }
        // The platform team's namespaces: sandbox rules cluster-wide, the ServiceAccount only
        // read, the client TLS Secret copied in.
        WorkspaceMode::Operator => {
            all.push(SANDBOX_SERVICE_ACCOUNT_READ);
            all = cluster_wide(all);
            all.extend(OPERATOR_NAMESPACE_RULES);
            all.push(CLIENT_TLS_COPY);
        }
        WorkspaceMode::Shared => {
            all.push(SANDBOX_SERVICE_ACCOUNT_READ);
            all.extend(SANDBOX_SERVICE_ACCOUNT_WATCH);
        }
    }
    all.extend(NODES);
    all
}

/// Managed and operator mode work in many namespaces, so namespaced rules are granted cluster-wide.
pub fn cluster_wide(mut rules: Vec<Permission>) -> Vec<Permission> {
    for rule in &mut rules {
        rule.namespaced = false;
    }
    rules
}

/// The driver creates the policy next to each Sandbox; the Sandbox's deletion removes it.
pub const NETWORK_POLICY_CREATE: Permission = p(
    "create",
    "networking.k8s.io",
    "networkpolicies",
    true,
    "the gateway-only NetworkPolicy of each sandbox (--gateway-ingress-only)",
);

/// The persistent workspace's claim (`--workspace-volume persistent`): the controller makes it;
/// the driver reads it before a create and releases it for `--workspace-retain`.
pub const CLAIM_RULES: [Permission; 2] = [
    p(
        "get",
        "",
        "persistentvolumeclaims",
        true,
        "a kept workspace claim refuses a create of the same name",
    ),
    p(
        "patch",
        "",
        "persistentvolumeclaims",
        true,
        "--workspace-retain releases the claim before the delete",
    ),
];

#[cfg(test)]
#[path = "permissions_tests.rs"]
pub mod tests;
