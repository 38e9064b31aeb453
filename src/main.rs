use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use openshell_driver_openshift::cli::check::{self, CheckArgs};
use openshell_driver_openshift::cli::client::{self, ClientArgs};
use openshell_driver_openshift::cli::render::{self, RenderArgs};
use openshell_driver_openshift::config::DriverConfig;
use openshell_driver_openshift::kubernetes::KubeProvisioner;
use openshell_driver_openshift::kubernetes::nodes::NodeStore;
use openshell_driver_openshift::metrics::{DriverMetrics, NoopMetrics, PrometheusMetrics};
use openshell_driver_openshift::openshift::OpenShiftEnricher;
use openshell_driver_openshift::server::{self, DriverSocket};
use openshell_driver_openshift::telemetry;

/// OpenShell compute driver for OpenShift and Kubernetes.
///
/// Without a subcommand it serves the ComputeDriver gRPC API on --socket (like `serve`).
#[derive(Debug, Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    driver: DriverConfig,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the ComputeDriver API on a Unix socket (the default).
    Serve(DriverConfig),
    /// Print the Sandbox (and token Secret) the driver would create for a request; no cluster.
    Render(RenderArgs),
    /// Talk to a running driver over its socket.
    Client(ClientArgs),
    /// Preflight the current kubeconfig: API server, Sandbox CRD, controller, permissions, GPUs.
    Check(CheckArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Some(Command::Serve(config)) => runtime.block_on(serve(config)),
        None => runtime.block_on(serve(cli.driver)),
        Some(Command::Render(args)) => render::run(&args),
        Some(Command::Check(args)) => {
            if !runtime.block_on(check::run(args))? {
                std::process::exit(1);
            }
            Ok(())
        }
        Some(Command::Client(args)) => match runtime.block_on(client::run(args)) {
            Ok(()) => Ok(()),
            Err(e) => {
                // gRPC failures print their code; the exit status says it failed.
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        },
    }
}

async fn serve(mut config: DriverConfig) -> anyhow::Result<()> {
    config.resolve_mode_defaults();
    openshell_driver_openshift::kubernetes::settings::check_serve(&config).map_err(anyhow::Error::msg)?;
    telemetry::init(config.log_format, &config.log_level)?;
    config.warm_profiles = openshell_driver_openshift::kubernetes::warm_pool::load(
        &config,
        openshell_driver_openshift::openshift::enricher::PLATFORM_CONFIG_KEYS,
    )
    .map_err(anyhow::Error::msg)?;
    let config = Arc::new(config);
    let shutdown = server::shutdown_on_signals()?;
    let socket = DriverSocket::bind(&config.socket, &config.allow_peer_uid)?;
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes configuration found (in-cluster, KUBECONFIG or ~/.kube/config)")?;
    let prometheus = (!config.metrics_bind_address.is_empty()).then(|| Arc::new(PrometheusMetrics::new()));
    let metrics: Arc<dyn DriverMetrics> = match &prometheus {
        Some(p) => p.clone(),
        None => Arc::new(NoopMetrics),
    };
    // One enricher for every --platform: on plain Kubernetes it adds nothing and refuses
    // exposure with a clear error.
    let nodes = NodeStore::new(client.clone(), shutdown.clone());
    let enricher = OpenShiftEnricher::new(Arc::clone(&config), client.clone(), nodes.clone(), metrics.clone())?;
    let provisioner = KubeProvisioner::start(
        Arc::clone(&config),
        client,
        nodes,
        enricher,
        metrics.clone(),
        shutdown.clone(),
    );
    if let Some(prometheus) = prometheus {
        let addr = config.metrics_bind_address.parse().with_context(|| {
            format!(
                "--metrics-bind-address {:?}: expected HOST:PORT",
                config.metrics_bind_address
            )
        })?;
        server::http::bind(addr, provisioner.clone(), prometheus, shutdown.clone()).await?;
    }
    server::serve(
        socket,
        provisioner,
        metrics,
        config.default_image.clone(),
        shutdown,
        config.shutdown_grace,
    )
    .await
}
