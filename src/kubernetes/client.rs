//! Every Kubernetes API call goes through [`KubeCalls::call`]: one timeout, one error mapping,
//! one metric, so no call can hang a gateway request or map its error differently.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::api::{ApiResource, GroupVersionKind};

use crate::error::DriverError;
use crate::kubernetes::render::{SANDBOX_GROUP, SANDBOX_KIND, SandboxApiVersion};
use crate::metrics::DriverMetrics;

pub const SANDBOX_PLURAL: &str = "sandboxes";

#[derive(Clone)]
pub struct KubeCalls {
    pub client: kube::Client,
    pub timeout: Duration,
    pub metrics: Arc<dyn DriverMetrics>,
}

/// What discovery found out about the Sandbox API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxApiState {
    Served(SandboxApiVersion),
    /// The API server answers, but no version of the Sandbox CRD is served.
    Missing,
}

pub const CRD_MISSING_MESSAGE: &str = "the Sandbox API (sandboxes.agents.x-k8s.io, v1beta1 or v1alpha1) is not served by this cluster: \
install the kubernetes-sigs/agent-sandbox CRDs and controller (e.g. kubectl apply --server-side -f \
k8s/crds/agents.x-k8s.io_sandboxes.yaml from the agent-sandbox release), then the driver picks it up by itself";

impl KubeCalls {
    pub async fn call<T>(
        &self,
        verb: &'static str,
        resource: &'static str,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, DriverError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, request).await {
            Err(_) => Err(DriverError::timed_out(verb, resource, self.timeout)),
            Ok(r) => r.map_err(|e| DriverError::from_kube(e, verb, resource)),
        };
        let outcome = match &result {
            Ok(_) => "success",
            Err(e) => e.metric_label(),
        };
        self.metrics.kube_call(verb, resource, outcome, started.elapsed());
        result
    }

    /// Whether `group_version` (e.g. `route.openshift.io/v1`) serves `plural`.
    pub async fn serves(&self, group_version: &str, plural: &str) -> Result<bool, DriverError> {
        match self
            .call("discover", "apis", self.client.list_api_group_resources(group_version))
            .await
        {
            Ok(list) => Ok(list.resources.iter().any(|r| r.name == plural)),
            Err(DriverError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Finds the served Sandbox version, preferring v1beta1 (the storage version).
    pub async fn discover_sandbox_api(&self) -> Result<SandboxApiState, DriverError> {
        for version in [SandboxApiVersion::V1beta1, SandboxApiVersion::V1alpha1] {
            let group_version = version.api_version();
            match self
                .call("discover", "apis", self.client.list_api_group_resources(&group_version))
                .await
            {
                Ok(list) if list.resources.iter().any(|r| r.name == SANDBOX_PLURAL) => {
                    return Ok(SandboxApiState::Served(version));
                }
                Ok(_) | Err(DriverError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(SandboxApiState::Missing)
    }
}

pub fn sandbox_resource(version: SandboxApiVersion) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(SANDBOX_GROUP, version.version(), SANDBOX_KIND),
        SANDBOX_PLURAL,
    )
}
