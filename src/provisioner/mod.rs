//! The seam between the gRPC service and a platform: the service only translates requests and
//! maps errors; everything that knows about a cluster lives behind [`SandboxProvisioner`].

use futures::stream::BoxStream;
use tokio::sync::watch;

use crate::error::DriverError;
use crate::proto::{DriverSandbox, ListSandboxesResponse, WatchSandboxesEvent};

/// Which sandbox a call is about. The gateway always sends its id; the name is informative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxRef {
    pub id: String,
    pub name: String,
}

impl SandboxRef {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Result<Self, DriverError> {
        let id = id.into();
        if id.is_empty() {
            return Err(DriverError::invalid("sandbox_id is required"));
        }
        Ok(Self { id, name: name.into() })
    }
}

/// Where a sandbox can be reached (the driver's own ResolveSandboxEndpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxEndpoint {
    pub pod_ips: Vec<String>,
    pub service_fqdn: String,
    pub node_name: String,
    pub route_host: String,
    pub instance_id: String,
}

/// Whether the backend can serve sandbox calls yet. GetCapabilities never depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The platform is unreachable; sandbox calls answer UNAVAILABLE with this message.
    Unavailable(String),
    /// The platform answers but lacks something (e.g. the Sandbox CRD); FAILED_PRECONDITION.
    Misconfigured(String),
}

impl Readiness {
    pub fn check(&self) -> Result<(), DriverError> {
        match self {
            Self::Ready => Ok(()),
            Self::Unavailable(m) => Err(DriverError::Unavailable(m.clone())),
            Self::Misconfigured(m) => Err(DriverError::FailedPrecondition(m.clone())),
        }
    }
}

pub type WatchStream = BoxStream<'static, WatchSandboxesEvent>;

#[async_trait::async_trait]
pub trait SandboxProvisioner: Send + Sync + 'static {
    /// Everything that can be checked before anything is stored, capacity included.
    async fn validate_create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError>;
    /// Accepts the sandbox; idempotent for the same id. It repeats the input and platform checks
    /// of `validate_create` (a gateway may skip that call), not the capacity check.
    async fn create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError>;
    async fn get(&self, target: &SandboxRef) -> Result<DriverSandbox, DriverError>;
    async fn list(&self) -> Result<Vec<DriverSandbox>, DriverError>;
    /// The ListSandboxes response: `list()`'s sandboxes, unless the provisioner keeps each one
    /// encoded and sends those bytes.
    async fn list_response(&self) -> Result<ListSandboxesResponse, DriverError> {
        Ok(ListSandboxesResponse {
            sandboxes: self.list().await?,
            encoded: Vec::new(),
        })
    }
    /// Returns once the workload is stopped.
    async fn stop(&self, target: &SandboxRef) -> Result<(), DriverError>;
    async fn start(&self, target: &SandboxRef) -> Result<(), DriverError>;
    /// `true` when this call deleted something, `false` when it was already absent.
    async fn delete(&self, target: &SandboxRef) -> Result<bool, DriverError>;
    /// Replays the current state as `sandbox` events, then follows changes until shutdown.
    async fn watch(&self) -> Result<WatchStream, DriverError>;
    async fn resolve_endpoint(&self, target: &SandboxRef) -> Result<SandboxEndpoint, DriverError>;
    async fn ensure_workspace(&self, workspace: &str) -> Result<(), DriverError>;
    async fn delete_workspace(&self, workspace: &str) -> Result<(), DriverError>;
    /// Current readiness, for health reporting.
    fn readiness(&self) -> Readiness;
    /// Readiness now and on every change: health reporting follows it without polling.
    fn readiness_updates(&self) -> watch::Receiver<Readiness>;
}
