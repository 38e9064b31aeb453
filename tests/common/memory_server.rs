//! Tier 2's server: the real gRPC server on a temporary socket in front of the in-memory
//! provisioner.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openshell_driver_openshift::metrics::NoopMetrics;
use openshell_driver_openshift::server::{self, DriverSocket};
use tokio::sync::watch;

use super::connect;
use super::memory::MemoryProvisioner;

pub struct Server {
    pub provisioner: Arc<MemoryProvisioner>,
    pub socket: PathBuf,
    pub shutdown: watch::Sender<bool>,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with_peers(&[]).await
    }

    pub async fn start_with_peers(peers: &[u32]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("driver").join("driver.sock");
        let (shutdown, rx) = watch::channel(false);
        let provisioner = MemoryProvisioner::new(rx.clone());
        let bound = DriverSocket::bind(&socket, peers).expect("binds");
        let task = tokio::spawn(server::serve(
            bound,
            provisioner.clone(),
            Arc::new(NoopMetrics),
            "registry.example/default:1".into(),
            rx,
            Duration::from_secs(5),
        ));
        Self {
            provisioner,
            socket,
            shutdown,
            task,
            _dir: dir,
        }
    }

    pub async fn client(
        &self,
    ) -> openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient<tonic::transport::Channel> {
        connect(&self.socket).await.expect("connects")
    }
}
