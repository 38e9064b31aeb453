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
    let health_task = tokio::spawn(report_health(
        reporter,
        provisioner.readiness_updates(),
        shutdown.clone(),
    ));

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

/// Health of the ComputeDriver service (and the server's, "") follows the provisioner's
/// readiness as it is pushed.
async fn report_health(
    reporter: tonic_health::server::HealthReporter,
    mut readiness: watch::Receiver<Readiness>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut last = None;
    loop {
        let serving = *readiness.borrow_and_update() == Readiness::Ready;
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
            changed = readiness.changed() => if changed.is_err() { return },
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_server::Health;
    use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

    #[tokio::test]
    async fn health_follows_readiness_without_a_timer() {
        tokio::time::pause();
        let reporter = tonic_health::server::HealthReporter::new();
        let service = tonic_health::server::HealthService::from_health_reporter(reporter.clone());
        let (readiness, updates) = watch::channel(Readiness::Unavailable("connecting".into()));
        let (_stop, shutdown) = watch::channel(false);
        // As `serve` does: the service is registered, not serving, before anything is known.
        reporter
            .set_service_status(SERVICE_NAME, tonic_health::ServingStatus::NotServing)
            .await;
        tokio::spawn(report_health(reporter, updates, shutdown));
        let request = tonic::Request::new(HealthCheckRequest {
            service: SERVICE_NAME.into(),
        });
        let mut statuses = service.watch(request).await.expect("watch").into_inner();
        let mut next = async || {
            statuses
                .next()
                .await
                .and_then(Result::ok)
                .map(|r: HealthCheckResponse| r.status)
        };
        assert_eq!(next().await, Some(ServingStatus::NotServing as i32));
        let before = tokio::time::Instant::now();
        readiness.send_replace(Readiness::Ready);
        assert_eq!(next().await, Some(ServingStatus::Serving as i32));
        // Paused time moves only when something sleeps: a poll would have moved it.
        assert_eq!(
            tokio::time::Instant::now(),
            before,
            "health came by a timer, not a push"
        );
    }
}
