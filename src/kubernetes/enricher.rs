//! The Kubernetes provisioner's platform hooks. The provisioner renders a portable Sandbox; a
//! [`PlatformEnricher`] adds what one platform needs (OpenShift: SCC, SELinux, Routes) without
//! the provisioner knowing about that platform. Hooks get the rendered sandbox, which carries
//! the sandbox's identity.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::DriverError;
use crate::kubernetes::cache::SandboxCache;
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion};
use crate::kubernetes::status::SandboxView;
use crate::proto::{DriverPlatformEvent, DriverSandbox};
use crate::provisioner::SandboxEndpoint;

/// Where an enricher reports what the platform says about a sandbox (e.g. a Route no router
/// admitted); the events reach every WatchSandboxes stream.
#[derive(Clone)]
pub struct PlatformEvents {
    cache: Arc<SandboxCache>,
}

impl PlatformEvents {
    pub fn new(cache: Arc<SandboxCache>) -> Self {
        Self { cache }
    }

    pub fn publish(&self, sandbox_id: &str, event: DriverPlatformEvent) {
        self.cache.publish_for(sandbox_id, event);
    }
}

/// A Sandbox the API server has accepted; owner of anything an enricher adds next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSandbox {
    pub api: SandboxApiVersion,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[async_trait::async_trait]
pub trait PlatformEnricher: Send + Sync + 'static {
    /// Starts background work (discovery, watches); called once when the provisioner starts.
    fn start(self: Arc<Self>, _events: PlatformEvents, _shutdown: watch::Receiver<bool>) {}

    /// `platform_config` keys this enricher handles; the provisioner does not reject them.
    fn platform_config_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Extra checks for ValidateSandboxCreate, given the rendered sandbox.
    async fn validate(&self, _request: &DriverSandbox, _rendered: &RenderedSandbox) -> Result<(), DriverError> {
        Ok(())
    }

    /// Changes the rendered Sandbox before it is created.
    async fn enrich(&self, _request: &DriverSandbox, _rendered: &mut RenderedSandbox) -> Result<(), DriverError> {
        Ok(())
    }

    /// Creates companion objects once the Sandbox exists. An error here makes the provisioner
    /// remove the Sandbox again, so nothing is left half-made.
    async fn after_create(
        &self,
        _request: &DriverSandbox,
        _rendered: &RenderedSandbox,
        _created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        Ok(())
    }

    /// Called when a sandbox is deleted (companions owned by the Sandbox go with it anyway).
    async fn on_delete(&self, _sandbox: &SandboxView) -> Result<(), DriverError> {
        Ok(())
    }

    /// Adds platform addresses (e.g. a Route host) to an endpoint.
    fn decorate_endpoint(&self, _sandbox: &SandboxView, _endpoint: &mut SandboxEndpoint) {}
}
