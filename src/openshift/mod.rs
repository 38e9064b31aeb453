//! OpenShift: SCC- and SELinux-aware pod specs, Routes and the OAuth proxy, behind the
//! [`crate::enricher::PlatformEnricher`] seam. The provisioner knows none of this.
//!
//! `namespace`, `expose`, `detect`, `pod`, `scc` and `routes` are pure; `enricher` is the I/O.

pub mod detect;
pub mod enricher;
pub mod expose;
pub mod namespace;
pub mod pod;
pub mod routes;
pub mod scc;

#[cfg(test)]
mod pod_tests;

pub use enricher::OpenShiftEnricher;

use crate::config::DriverConfig;
use crate::error::DriverError;
use crate::kubernetes::render::SandboxManifest;
use crate::proto::DriverSandbox;

/// Applies the OpenShift additions without a cluster, from the namespace annotations and the
/// SELinux type given (as `render --platform openshift` shows them), and returns the objects
/// made next to the Sandbox.
pub fn enrich_offline(
    request: &DriverSandbox,
    config: &DriverConfig,
    manifest: &mut SandboxManifest,
    namespace_annotations: &std::collections::BTreeMap<String, String>,
    facts: &detect::PlatformFacts,
) -> Result<Option<pod::Companions>, DriverError> {
    let identity = crate::kubernetes::identity::identity_of(request, config)?;
    let security = namespace::namespace_security(&identity.namespace, namespace_annotations)?;
    let exposure = expose::exposure_of(request, &config.openshift)?;
    let selinux = detect::selinux_choice(&config.openshift, facts);
    let plan = pod::plan(
        config,
        &config.sandbox_service_account,
        &security,
        selinux.as_ref(),
        exposure.clone(),
    );
    pod::apply_plan(manifest, &plan, &pod::expose_names(&identity.object_name))?;
    Ok(exposure.map(|e| {
        pod::companions(
            &identity,
            &config.gateway_id,
            &e,
            &plan.service_account,
            None,
            "<redacted>",
        )
    }))
}
