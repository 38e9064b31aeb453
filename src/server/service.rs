//! The gRPC service: translates requests to [`SandboxProvisioner`] calls and results back,
//! records each call, and does nothing else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::error::DriverError;
use crate::metrics::DriverMetrics;
use crate::proto::compute_driver_server::ComputeDriver;
use crate::proto::phase::event_kind;
use crate::proto::*;
use crate::provisioner::{SandboxProvisioner, SandboxRef};

pub const DRIVER_NAME: &str = "openshift";

pub struct ComputeDriverService {
    provisioner: Arc<dyn SandboxProvisioner>,
    metrics: Arc<dyn DriverMetrics>,
    default_image: String,
}

impl ComputeDriverService {
    pub fn new(
        provisioner: Arc<dyn SandboxProvisioner>,
        metrics: Arc<dyn DriverMetrics>,
        default_image: String,
    ) -> Self {
        Self {
            provisioner,
            metrics,
            default_image,
        }
    }

    /// Runs one RPC: logs its outcome (never its payload, which may carry the sandbox token)
    /// and counts it.
    async fn observe<T>(
        &self,
        rpc: &'static str,
        sandbox_id: &str,
        call: impl Future<Output = Result<T, DriverError>>,
    ) -> Result<Response<T>, Status> {
        let started = Instant::now();
        let result = call.await;
        let code = result.as_ref().map_or_else(DriverError::code, |_| tonic::Code::Ok);
        let elapsed = started.elapsed();
        self.metrics.rpc_completed(rpc, code, elapsed);
        let latency_ms = elapsed.as_secs_f64() * 1e3;
        match &result {
            Ok(_) => tracing::debug!(rpc, sandbox_id, code = ?code, latency_ms, "rpc done"),
            Err(e) => tracing::info!(rpc, sandbox_id, code = ?code, latency_ms, error = %e, "rpc failed"),
        }
        result.map(Response::new).map_err(Status::from)
    }
}

fn sandbox_of(sandbox: Option<DriverSandbox>) -> Result<DriverSandbox, DriverError> {
    sandbox.ok_or_else(|| DriverError::invalid("sandbox is required"))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<WatchSandboxesEvent, Status>> + Send>>;

#[tonic::async_trait]
impl ComputeDriver for ComputeDriverService {
    async fn get_capabilities(
        &self,
        _: Request<GetCapabilitiesRequest>,
    ) -> Result<Response<GetCapabilitiesResponse>, Status> {
        self.observe("GetCapabilities", "", async {
            Ok(GetCapabilitiesResponse {
                driver_name: DRIVER_NAME.into(),
                driver_version: env!("CARGO_PKG_VERSION").into(),
                default_image: self.default_image.clone(),
                gateway_manages_lifecycle: false,
            })
        })
        .await
    }

    async fn get_gateway_listener_requirements(
        &self,
        _: Request<GetGatewayListenerRequirementsRequest>,
    ) -> Result<Response<GetGatewayListenerRequirementsResponse>, Status> {
        self.observe("GetGatewayListenerRequirements", "", async {
            Ok(GetGatewayListenerRequirementsResponse { requirements: vec![] })
        })
        .await
    }

    async fn validate_sandbox_create(
        &self,
        request: Request<ValidateSandboxCreateRequest>,
    ) -> Result<Response<ValidateSandboxCreateResponse>, Status> {
        let sandbox = request.into_inner().sandbox;
        let id = sandbox.as_ref().map(|s| s.id.clone()).unwrap_or_default();
        self.observe("ValidateSandboxCreate", &id, async {
            self.provisioner.validate_create(&sandbox_of(sandbox)?).await?;
            Ok(ValidateSandboxCreateResponse {})
        })
        .await
    }

    async fn get_sandbox(&self, request: Request<GetSandboxRequest>) -> Result<Response<GetSandboxResponse>, Status> {
        let r = request.into_inner();
        self.observe("GetSandbox", &r.sandbox_id.clone(), async {
            let sandbox = self
                .provisioner
                .get(&SandboxRef::new(r.sandbox_id, r.sandbox_name)?)
                .await?;
            Ok(GetSandboxResponse { sandbox: Some(sandbox) })
        })
        .await
    }

    async fn list_sandboxes(
        &self,
        _: Request<ListSandboxesRequest>,
    ) -> Result<Response<ListSandboxesResponse>, Status> {
        self.observe("ListSandboxes", "", self.provisioner.list_response())
            .await
    }

    async fn create_sandbox(
        &self,
        request: Request<CreateSandboxRequest>,
    ) -> Result<Response<CreateSandboxResponse>, Status> {
        let sandbox = request.into_inner().sandbox;
        let id = sandbox.as_ref().map(|s| s.id.clone()).unwrap_or_default();
        self.observe("CreateSandbox", &id, async {
            self.provisioner.create(&sandbox_of(sandbox)?).await?;
            Ok(CreateSandboxResponse {})
        })
        .await
    }

    async fn stop_sandbox(
        &self,
        request: Request<StopSandboxRequest>,
    ) -> Result<Response<StopSandboxResponse>, Status> {
        let r = request.into_inner();
        self.observe("StopSandbox", &r.sandbox_id.clone(), async {
            self.provisioner
                .stop(&SandboxRef::new(r.sandbox_id, r.sandbox_name)?)
                .await?;
            Ok(StopSandboxResponse {})
        })
        .await
    }

    async fn start_sandbox(
        &self,
        request: Request<StartSandboxRequest>,
    ) -> Result<Response<StartSandboxResponse>, Status> {
        let r = request.into_inner();
        self.observe("StartSandbox", &r.sandbox_id.clone(), async {
            self.provisioner
                .start(&SandboxRef::new(r.sandbox_id, r.sandbox_name)?)
                .await?;
            Ok(StartSandboxResponse {})
        })
        .await
    }

    async fn delete_sandbox(
        &self,
        request: Request<DeleteSandboxRequest>,
    ) -> Result<Response<DeleteSandboxResponse>, Status> {
        let r = request.into_inner();
        self.observe("DeleteSandbox", &r.sandbox_id.clone(), async {
            let deleted = self
                .provisioner
                .delete(&SandboxRef::new(r.sandbox_id, r.sandbox_name)?)
                .await?;
            Ok(DeleteSandboxResponse { deleted })
        })
        .await
    }

    type WatchSandboxesStream = EventStream;

    async fn watch_sandboxes(&self, _: Request<WatchSandboxesRequest>) -> Result<Response<EventStream>, Status> {
        let metrics = Arc::clone(&self.metrics);
        self.observe("WatchSandboxes", "", async {
            let events = self.provisioner.watch().await?;
            metrics.watch_stream_opened();
            let guard = StreamGuard(Arc::clone(&metrics));
            let stream: EventStream = Box::pin(events.map(move |event| {
                let _keep = &guard;
                guard.0.watch_event_sent(event_kind(&event));
                Ok(event)
            }));
            Ok(stream)
        })
        .await
    }

    async fn ensure_workspace(
        &self,
        request: Request<EnsureWorkspaceRequest>,
    ) -> Result<Response<EnsureWorkspaceResponse>, Status> {
        let workspace = request.into_inner().workspace;
        self.observe("EnsureWorkspace", "", async {
            self.provisioner.ensure_workspace(&workspace).await?;
            Ok(EnsureWorkspaceResponse {})
        })
        .await
    }

    async fn delete_workspace(
        &self,
        request: Request<DeleteWorkspaceRequest>,
    ) -> Result<Response<DeleteWorkspaceResponse>, Status> {
        let workspace = request.into_inner().workspace;
        self.observe("DeleteWorkspace", "", async {
            self.provisioner.delete_workspace(&workspace).await?;
            Ok(DeleteWorkspaceResponse {})
        })
        .await
    }

    async fn resolve_sandbox_endpoint(
        &self,
        request: Request<ResolveSandboxEndpointRequest>,
    ) -> Result<Response<ResolveSandboxEndpointResponse>, Status> {
        let r = request.into_inner();
        self.observe("ResolveSandboxEndpoint", &r.sandbox_id.clone(), async {
            let e = self
                .provisioner
                .resolve_endpoint(&SandboxRef::new(r.sandbox_id, r.sandbox_name)?)
                .await?;
            Ok(ResolveSandboxEndpointResponse {
                pod_ips: e.pod_ips,
                service_fqdn: e.service_fqdn,
                node_name: e.node_name,
                route_host: e.route_host,
                instance_id: e.instance_id,
            })
        })
        .await
    }
}

/// Counts a watch stream as closed when the gateway drops it or the driver ends it.
struct StreamGuard(Arc<dyn DriverMetrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.watch_stream_closed();
    }
}
