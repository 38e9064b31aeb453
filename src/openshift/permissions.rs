//! What OpenShift adds to the driver's permissions (deploy/openshift/rbac*.yaml): the Route,
//! Service and OAuth writes of an exposed sandbox and the SCC preflight and grant.

use crate::config::WorkspaceMode;
use crate::kubernetes::permissions::{NamedObject, Permission, cluster_wide, named, p};
use crate::openshift::api::{ROUTE_GROUP, SCC_GROUP, SCC_PLURAL};

/// On OpenShift, besides the above (deploy/openshift/rbac*.yaml).
const OPENSHIFT_RULES: [Permission; 6] = [
    p("create", "", "services", true, "the Service of an exposed sandbox"),
    p("create", ROUTE_GROUP, "routes", true, "the Route of an exposed sandbox"),
    p("list", ROUTE_GROUP, "routes", true, "Route hosts and refusals"),
    p("watch", ROUTE_GROUP, "routes", true, "Route hosts and refusals"),
    p(
        "create",
        ROUTE_GROUP,
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
        p("get", SCC_GROUP, SCC_PLURAL, false, "the SCC preflight"),
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
    let mut all = crate::kubernetes::permissions::required(mode);
    if !openshift {
        return all;
    }
    match mode {
        WorkspaceMode::Managed => {
            all.extend(cluster_wide(OPENSHIFT_RULES.to_vec()));
            all.extend(OPENSHIFT_CLUSTER_RULES);
            all.extend(OPENSHIFT_MANAGED_RULES);
        }
        // The platform team's namespaces: it grants the SCC there; the driver reads their
        // SCC annotations.
        WorkspaceMode::Operator => {
            all.extend(cluster_wide(OPENSHIFT_RULES.to_vec()));
            all.extend(OPENSHIFT_CLUSTER_RULES);
            all.push(p("get", "", "namespaces", false, "the namespace's SCC annotations"));
        }
        WorkspaceMode::Shared => {
            all.extend(OPENSHIFT_RULES);
            all.push(SANDBOX_NAMESPACE_READ);
            all.extend(OPENSHIFT_CLUSTER_RULES);
        }
    }
    all
}

#[cfg(test)]
#[path = "permissions_tests.rs"]
mod tests;
