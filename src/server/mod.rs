//! Serving the ComputeDriver service (and grpc.health.v1) on the driver's socket until shutdown.

pub mod http;
pub mod service;
pub mod socket;
pub mod trace;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::DriverMetrics;
use crate::proto::compute_driver_server::ComputeDriverServer;
use crate::provisioner::{Readiness, SandboxProvisioner};
pub use service::ComputeDriverService;
pub use socket::DriverSocket;

/// Health of the ComputeDriver service follows the provisioner's readiness.
const HEALTH_POLL: Duration = Duration::from_millis(500);
pub const SERVICE_NAME: &str = "openshell.compute.v1.ComputeDriver";

/// Serves until `shutdown` turns true; in-flight calls then get `grace` to finish, and watch
/// streams end (the gateway reopens them on its next driver).
pub async fn serve(
    socket: DriverSocket,
    provisioner: Arc<dyn SandboxProvisioner>,
    metrics: Arc<dyn DriverMetrics>,
    default_image: String,
    shutdown: watch::Receiver<bool>,
    grace: Duration,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::NotServing)
        .await;
    let health_task = tokio::spawn(report_health(reporter, Arc::clone(&provisioner), shutdown.clone()));

    let service = ComputeDriverService::new(provisioner, metrics, default_image);
    let mut stop = shutdown.clone();
    let signal = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tracing::info!(socket = %socket.path().display(), "driver listening");
    let server = tonic::transport::Server::builder()
        .layer(trace::TraceContextLayer)
        .add_service(health)
        .add_service(ComputeDriverServer::new(service))
        .serve_with_incoming_shutdown(socket.incoming(), signal);

    let mut stop = shutdown.clone();
    let deadline = async move {
        let _ = stop.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        r = server => r.map_err(anyhow::Error::from),
        _ = deadline => {
            tracing::warn!(grace_s = grace.as_secs_f32(), "calls still running after the shutdown grace period; exiting anyway");
            Ok(())
        }
    };
    health_task.abort();
    drop(socket);
    tracing::info!("driver stopped");
    result
}

async fn report_health(
    reporter: tonic_health::server::HealthReporter,
    provisioner: Arc<dyn SandboxProvisioner>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last = None;
    loop {
        let serving = provisioner.readiness() == Readiness::Ready;
        if last != Some(serving) {
            let status = if serving {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status(SERVICE_NAME, status).await;
            reporter.set_service_status("", status).await;
            last = Some(serving);
        }
        tokio::select! {
            _ = tokio::time::sleep(HEALTH_POLL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// A watch channel that turns true on SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> anyhow::Result<watch::Receiver<bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = int.recv() => tracing::info!("SIGINT: shutting down"),
        }
        let _ = tx.send(true);
    });
    Ok(rx)
}
