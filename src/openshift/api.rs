//! The OpenShift APIs the driver uses, named once: group, version, kind and plural of the Route
//! and the SecurityContextConstraints.

use kube::api::{ApiResource, GroupVersionKind};

pub const ROUTE_GROUP: &str = "route.openshift.io";
pub const ROUTE_PLURAL: &str = "routes";
pub const SCC_GROUP: &str = "security.openshift.io";
pub const SCC_PLURAL: &str = "securitycontextconstraints";
const VERSION: &str = "v1";

pub fn route_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(ROUTE_GROUP, VERSION, "Route"), ROUTE_PLURAL)
}

pub fn scc_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(SCC_GROUP, VERSION, "SecurityContextConstraints"),
        SCC_PLURAL,
    )
}
