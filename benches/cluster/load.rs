//! The load the cluster benchmark drives: creates through the driver and straight to the API
//! server at a fixed concurrency, and latency samples of one call repeated.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, PostParams};
use openshell_driver_openshift::config::DriverConfig;
use openshell_driver_openshift::kubernetes::render::{SandboxApiVersion, render_sandbox};
use openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient;
use openshell_driver_openshift::proto::*;
use tonic::transport::Channel;

use crate::common::sandbox_request;

/// What a concurrent run took: its wall time, the sum of its operations' own times (their mean
/// latency is `busy / count`), and how many failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Run {
    pub wall: Duration,
    pub busy: Duration,
    pub failures: usize,
}

impl std::ops::Add for Run {
    type Output = Run;
    fn add(self, other: Run) -> Run {
        Run {
            wall: self.wall + other.wall,
            busy: self.busy + other.busy,
            failures: self.failures + other.failures,
        }
    }
}

/// Runs `op(i)` for every i in `items` with `concurrency` workers (the first few failures are
/// printed).
pub async fn run_concurrently<F, Fut>(items: Vec<usize>, concurrency: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let items = Arc::new(items);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (items, next, failures, op) = (items.clone(), next.clone(), failures.clone(), op.clone());
            tokio::spawn(async move {
                let mut busy = Duration::ZERO;
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = items.get(k) else { return busy };
                    let started = Instant::now();
                    let result = op(i).await;
                    busy += started.elapsed();
                    if let Err(e) = result
                        && failures.fetch_add(1, Ordering::Relaxed) < 3
                    {
                        eprintln!("bench: operation {i} failed: {e}");
                    }
                }
            })
        })
        .collect();
    let mut busy = Duration::ZERO;
    for w in workers {
        busy += w.await.unwrap_or_default();
    }
    Run {
        wall: start.elapsed(),
        busy,
        failures: failures.load(Ordering::Relaxed),
    }
}

/// The id of the i-th sandbox of a run.
pub fn sandbox_id(run: &str, i: usize) -> String {
    format!("{run}-{i:06}")
}

/// ValidateSandboxCreate + CreateSandbox, as the gateway sends them, for sandboxes `items`.
pub async fn driver_creates(
    client: &ComputeDriverClient<Channel>,
    run: &str,
    items: Vec<usize>,
    concurrency: usize,
) -> Run {
    let client = client.clone();
    let run = run.to_string();
    run_concurrently(items, concurrency, move |i| {
        let mut client = client.clone();
        let sandbox = sandbox_request(&sandbox_id(&run, i), &format!("sb-{i}"));
        async move {
            client
                .validate_sandbox_create(ValidateSandboxCreateRequest {
                    sandbox: Some(sandbox.clone()),
                })
                .await
                .map_err(|e| e.to_string())?;
            client
                .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
}

/// The same Sandboxes the driver would write (rendered by its own code), POSTed straight to
/// the API server under another gateway id, so the driver's watch never sees them.
pub async fn raw_creates(
    kube: &kube::Client,
    config: &DriverConfig,
    run: &str,
    items: Vec<usize>,
    concurrency: usize,
) -> Run {
    let api: Api<DynamicObject> = Api::namespaced_with(
        kube.clone(),
        &config.namespace,
        &openshell_driver_openshift::kubernetes::client::sandbox_resource(SandboxApiVersion::V1beta1),
    );
    let config = Arc::new(config.clone());
    let run = run.to_string();
    run_concurrently(items, concurrency, move |i| {
        let api = api.clone();
        let request = sandbox_request(&sandbox_id(&run, i), &format!("raw-{i}"));
        let rendered = render_sandbox(&request, &config, SandboxApiVersion::V1beta1, &[]);
        async move {
            let rendered = rendered.map_err(|e| e.to_string())?;
            let object: DynamicObject = serde_json::to_value(&rendered.manifest)
                .and_then(serde_json::from_value)
                .map_err(|e| e.to_string())?;
            api.create(&PostParams::default(), &object)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await
}

/// `count` sequential calls of `op`, each timed.
pub async fn latencies<F, Fut>(count: usize, mut op: F) -> Vec<Duration>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let start = Instant::now();
        if let Err(e) = op(i).await {
            eprintln!("bench: call {i} failed: {e}");
            continue;
        }
        out.push(start.elapsed());
    }
    out
}
