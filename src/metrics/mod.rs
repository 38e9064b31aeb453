//! What the driver counts. The service and provisioner call [`DriverMetrics`]; the Prometheus
//! implementation lives behind the same trait, so nothing else changes when it is switched on.

use std::time::Duration;

/// Event sinks; every method has a no-op default so an implementation picks what it exports.
/// Labels passed here are bounded sets (method names, codes, reasons): never a sandbox id.
pub trait DriverMetrics: Send + Sync + 'static {
    fn rpc_completed(&self, _method: &'static str, _code: tonic::Code, _elapsed: Duration) {}
    fn sandbox_created(&self) {}
    fn sandbox_deleted(&self) {}
    fn sandbox_failed(&self, _reason: &'static str) {}
    fn watch_stream_opened(&self) {}
    fn watch_stream_closed(&self) {}
    fn watch_event_sent(&self, _kind: &'static str) {}
    fn kube_call(&self, _verb: &'static str, _resource: &'static str, _outcome: &'static str, _elapsed: Duration) {}
    /// Sandboxes in the cache by phase, replaced wholesale on each change.
    fn active_sandboxes(&self, _by_phase: &[(&'static str, i64)]) {}
    /// A warm pool profile's unbound members (`profile` is the operator's profile name).
    fn warm_members(&self, _profile: &str, _ready: usize, _starting: usize) {}
    /// A create bound to a warm member, and how long the bind took.
    fn warm_bound(&self, _profile: &str, _elapsed: Duration) {}
    /// A create that went cold although a pool is configured, and why.
    fn warm_miss(&self, _reason: &'static str) {}
}

/// Counts nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopMetrics;

impl DriverMetrics for NoopMetrics {}

mod prometheus;
pub use prometheus::PrometheusMetrics;
