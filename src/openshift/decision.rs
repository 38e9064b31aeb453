//! The one decision of whether and how the OpenShift additions apply to a sandbox. The enricher
//! takes it against the cluster; `render --platform openshift` and `check` take it offline.

use std::collections::BTreeMap;

use crate::config::DriverConfig;
use crate::error::DriverError;
use crate::kubernetes::render::RenderedSandbox;
use crate::openshift::companions::{Companions, companions};
use crate::openshift::detect::{PlatformFacts, openshift_active, selinux_choice};
use crate::openshift::expose::{Exposure, exposure_of};
use crate::openshift::namespace::{NamespaceSecurity, namespace_security};
use crate::openshift::pod::{OpenShiftPlan, apply_plan, expose_names, plan};
use crate::proto::DriverSandbox;

/// Why `--proxy-auth-secret-name` is refused on OpenShift: the SCC's `fsGroup: MustRunAs` makes
/// the kubelet give every Secret volume group read for the namespace's first GID, which is the
/// GID the supervisor runs the agent as, so the agent could read the credential.
pub const PROXY_CREDENTIAL_ON_OPENSHIFT: &str = "--proxy-auth-secret-name cannot be used on OpenShift: the SCC's fsGroup makes the kubelet give the credential's Secret volume group read for the namespace's first GID, the GID the agent runs as, so the agent could read the proxy credential; use a proxy that needs no credential (--https-proxy alone), or --topology sidecar, where only the network supervisor mounts it";

/// The OpenShift additions apply; what is left to learn is the namespace's allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applies {
    pub exposure: Option<Exposure>,
}

/// `None` on plain Kubernetes, where exposure is refused (it needs Routes).
pub fn decide(
    config: &DriverConfig,
    facts: &PlatformFacts,
    request: &DriverSandbox,
) -> Result<Option<Applies>, DriverError> {
    let exposure = exposure_of(request, &config.openshift)?;
    if !openshift_active(config.openshift.platform, facts) {
        if exposure.is_some() {
            return Err(DriverError::FailedPrecondition(
                "platform_config.expose needs OpenShift Routes, and this driver runs on plain Kubernetes \
                 (no security.openshift.io/v1 API, or --platform kubernetes; `render` shows Routes with \
                 --platform openshift); reach the sandbox through ResolveSandboxEndpoint instead"
                    .into(),
            ));
        }
        return Ok(None);
    }
    if exposure.is_some() && config.ingress.gateway_ingress_only {
        return Err(DriverError::FailedPrecondition(
            "platform_config.expose cannot be used with --gateway-ingress-only: the sandbox's NetworkPolicy admits only the gateway's pods, so the router could not reach the exposed port".into(),
        ));
    }
    // In the sidecar topology only the network supervisor mounts the credential.
    if config.proxy.has_credential() && !config.topology.is_sidecar() {
        return Err(DriverError::FailedPrecondition(PROXY_CREDENTIAL_ON_OPENSHIFT.into()));
    }
    if exposure.is_some() && !facts.route_api {
        return Err(DriverError::FailedPrecondition(
            "platform_config.expose needs the route.openshift.io/v1 API, which this cluster does not serve".into(),
        ));
    }
    Ok(Some(Applies { exposure }))
}

impl Applies {
    /// The plan for a sandbox in a namespace with `security`.
    pub fn plan(self, config: &DriverConfig, facts: &PlatformFacts, security: &NamespaceSecurity) -> OpenShiftPlan {
        let selinux = selinux_choice(&config.openshift, facts);
        plan(
            config,
            &config.sandbox_service_account,
            security,
            selinux.as_ref(),
            self.exposure,
        )
    }
}

/// Applies the OpenShift additions without a cluster, from the namespace annotations and the
/// node facts given (as `render --platform openshift` shows them): the OpenShift APIs count as
/// served. Returns the objects made next to the Sandbox, with `cookie` as their cookie secret.
pub fn enrich_offline(
    request: &DriverSandbox,
    config: &DriverConfig,
    rendered: &mut RenderedSandbox,
    namespace_annotations: &BTreeMap<String, String>,
    facts: &PlatformFacts,
) -> Result<Option<Companions>, DriverError> {
    let facts = PlatformFacts {
        scc_api: true,
        route_api: true,
        ..facts.clone()
    };
    let Some(applies) = decide(config, &facts, request)? else {
        return Ok(None);
    };
    let identity = &rendered.identity;
    let security = namespace_security(&identity.namespace, namespace_annotations)?;
    let plan = applies.plan(config, &facts, &security);
    apply_plan(&mut rendered.manifest, &plan, &expose_names(&identity.object_name))?;
    Ok(plan.exposure.as_ref().map(|e| {
        companions(
            identity,
            &config.gateway_id,
            e,
            &plan.service_account,
            None,
            "<redacted>",
        )
    }))
}
