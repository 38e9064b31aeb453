//! The benchmark's phases, in order, on one namespace and one driver (under deploy/rbac.yaml).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use openshell_driver_openshift::config::DriverConfig;
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient;
use openshell_driver_openshift::proto::*;
use tonic::transport::Channel;

use crate::common::cluster::{Cluster, unique_namespace};
use crate::common::{DriverProcess, TEST_GATEWAY_ENDPOINT, get_request, list_all};
use crate::load::{Run, driver_creates, latencies, raw_creates, run_concurrently};
use crate::measure::{CpuSnapshot, DriverTimes, api_counters, control_plane, percentiles_ms, rss_mib};
use crate::report::{PhaseCost, Report};

pub struct Bench {
    pub n: usize,
    pub cluster_dir: std::path::PathBuf,
    pub namespace: String,
    /// Cluster admin: raw creates, patches and the API server's /metrics. Its requests are
    /// exempt from API priority, so the driver's ServiceAccount is alone in its flow schema.
    pub admin: kube::Client,
    /// The raw comparison creates' sender (`raw_identity`): a ServiceAccount like the driver.
    pub raw: kube::Client,
    pub driver: DriverProcess,
    pub client: ComputeDriverClient<Channel>,
    pub report: Report,
    pub ids: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Bench {
    pub fn processes(&self) -> BTreeMap<String, u32> {
        let mut all = control_plane(&self.cluster_dir);
        all.insert("driver".into(), self.driver.child.id());
        all
    }

    pub fn sandboxes(&self, client: &kube::Client) -> Api<DynamicObject> {
        Api::namespaced_with(
            client.clone(),
            &self.namespace,
            &sandbox_resource(SandboxApiVersion::V1beta1),
        )
    }

    pub fn driver_rss(&self) -> f64 {
        rss_mib(self.driver.child.id())
    }

    /// Runs `work` as one phase and records its wall time, CPU per process and API requests.
    pub async fn phase<T>(&mut self, name: &str, operations: usize, work: impl AsyncFnOnce(&mut Self) -> T) -> T {
        let processes = self.processes();
        let (cpu, api, start) = (
            CpuSnapshot::take(&processes),
            api_counters(&self.admin).await,
            Instant::now(),
        );
        eprintln!("bench: phase {name}");
        let out = work(self).await;
        let seconds = start.elapsed().as_secs_f64();
        let processes = self.processes();
        let cost = PhaseCost {
            name: name.into(),
            seconds,
            operations,
            cpu: CpuSnapshot::take(&processes).since(&cpu),
            api: api_counters(&self.admin).await.since(&api),
            rss_after: self.driver_rss(),
        };
        self.report.phases.push(cost);
        out
    }

    /// Polls ListSandboxes until `done` holds for its length (false after `within`).
    pub async fn wait_list(&mut self, within: Duration, done: impl Fn(&[DriverSandbox]) -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(list) = list_all(&mut self.client).await
                && done(&list)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

pub async fn run(n: usize, cluster_dir: &Path) -> Report {
    let mut bench = setup(n, cluster_dir).await;
    creates(&mut bench).await;
    reads(&mut bench).await;
    crate::lag::watch_lag_and_relist(&mut bench).await;
    deletes(&mut bench).await;
    let lagged = bench.driver.log().matches("watch stream fell behind").count();
    bench.report.note(format!(
        "WatchSandboxes streams resynced after falling behind: {lagged}"
    ));
    let api = api_counters(&bench.admin).await;
    if api.driver == 0.0 {
        bench.report.note(format!(
            "the API server's /metrics showed no requests in flow schema {}: req/op is not measured",
            crate::measure::DRIVER_FLOW_SCHEMA
        ));
    }
    let _ = bench
        .sandboxes(&bench.admin)
        .delete_collection(&DeleteParams::background(), &ListParams::default())
        .await;
    let cluster = Cluster::from_env();
    crate::raw_identity::remove(&cluster, &bench.namespace);
    let _ = cluster.try_kubectl(&["delete", "namespace", &bench.namespace, "--wait=false"], None);
    std::mem::take(&mut bench.report)
}

async fn setup(n: usize, cluster_dir: &Path) -> Bench {
    let cluster = Cluster::from_env();
    let namespace = unique_namespace("bench");
    cluster.create_namespace(&namespace);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = cluster.driver_identity(&namespace, dir.path(), None);
    let admin = cluster.client().await;
    let raw = crate::raw_identity::raw_client(&cluster, &namespace, dir.path()).await;
    let kubeconfig = kubeconfig.to_string_lossy().into_owned();
    let start = Instant::now();
    let driver = DriverProcess::start(
        &["--namespace", &namespace, "--gateway-id", &namespace],
        &[("KUBECONFIG", &kubeconfig), ("OPENSHELL_DRIVER_LOG_LEVEL", "info")],
    )
    .await;
    let client = driver.client().await;
    let mut bench = Bench {
        n,
        cluster_dir: cluster_dir.to_path_buf(),
        namespace,
        admin,
        raw,
        driver,
        client,
        report: Report {
            n,
            ..Default::default()
        },
        ids: Vec::new(),
        _dir: dir,
    };
    bench.wait_list(Duration::from_secs(60), |_| true).await;
    bench.report.figure(
        "driver start to first List answered",
        start.elapsed().as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = bench.driver_rss();
    bench.report.figure("RSS idle", idle, "MiB", "");
    let client = bench.client.clone();
    let mut samples = latencies(2000, |_| {
        let mut c = client.clone();
        async move { c.get_capabilities(GetCapabilitiesRequest {}).await.map(|_| ()) }
    })
    .await;
    let (p50, p99) = percentiles_ms(&mut samples);
    bench.report.figure("GetCapabilities (empty call) p50", p50, "ms", "");
    bench.report.figure("GetCapabilities (empty call) p99", p99, "ms", "");
    bench
}

/// Creates through the driver and raw creates, at 16 and 64 callers, in the order raw,
/// driver, driver, raw per level (ABBA), so a drift in the cluster's load favours neither.
async fn creates(bench: &mut Bench) {
    let run = bench.namespace.clone();
    let mut raw_config = DriverConfig::defaults();
    raw_config.namespace = bench.namespace.clone();
    raw_config.gateway_id = format!("raw-{}", bench.namespace);
    raw_config.gateway_endpoint = TEST_GATEWAY_ENDPOINT.into();
    let half = bench.n / 2;
    let levels = [(16usize, 0..half), (64usize, half..bench.n)];
    for (concurrency, range) in levels {
        let items: Vec<usize> = range.collect();
        let quarter = items.len() / 2;
        let (first, second) = items.split_at(quarter);
        let ops = items.len();
        let name = format!("create x{concurrency}");
        let (driver, raw, inside) = bench
            .phase(&name, ops, async |b: &mut Bench| {
                let raw_first = raw_creates(&b.raw, &raw_config, &run, first.to_vec(), concurrency).await;
                let before = DriverTimes::scrape(&b.driver.metrics_addr).await;
                let driver_first = driver_creates(&b.client, &run, first.to_vec(), concurrency).await;
                let driver_second = driver_creates(&b.client, &run, second.to_vec(), concurrency).await;
                let inside = DriverTimes::scrape(&b.driver.metrics_addr).await.since(&before);
                let raw_second = raw_creates(&b.raw, &raw_config, &run, second.to_vec(), concurrency).await;
                (driver_first + driver_second, raw_first + raw_second, inside)
            })
            .await;
        let failures = driver.failures + raw.failures;
        let driver_rate = ops as f64 / driver.wall.as_secs_f64();
        let raw_rate = ops as f64 / raw.wall.as_secs_f64();
        let r = &mut bench.report;
        // Where a driver create's time goes, against a raw create's POST seen by its client.
        let mean_ms = |busy: Duration| busy.as_secs_f64() * 1000.0 / ops.max(1) as f64;
        r.figure(
            format!("  driver create latency (client: Validate + Create), {concurrency} callers"),
            mean_ms(driver.busy),
            "ms",
            "",
        );
        r.figure(
            "  of which the driver's CreateSandbox (its own histogram)",
            inside.create_ms,
            "ms",
            "",
        );
        r.figure(
            "  of which its Sandbox POST (its own histogram)",
            inside.post_ms,
            "ms",
            "",
        );
        r.figure(
            format!("  raw Sandbox POST latency (client), {concurrency} callers"),
            mean_ms(raw.busy),
            "ms",
            "",
        );
        r.figure(
            format!("create through the driver, {concurrency} callers"),
            driver_rate,
            "/s",
            "",
        );
        r.figure(format!("raw Sandbox create, {concurrency} callers"), raw_rate, "/s", "");
        r.figure(
            format!("driver / raw create throughput, {concurrency} callers"),
            driver_rate / raw_rate,
            "x",
            ">= 0.9",
        );
        if failures > 0 {
            r.note(format!("{failures} creates failed at {concurrency} callers"));
        }
    }
    bench.ids = (0..bench.n).map(|i| crate::load::sandbox_id(&run, i)).collect();
    // The raw Sandboxes only served the comparison.
    let raw = format!("openshell.ai/gateway-id=raw-{}", bench.namespace);
    let _ = bench
        .sandboxes(&bench.admin)
        .delete_collection(&DeleteParams::background(), &ListParams::default().labels(&raw))
        .await;
}

/// List and Get over the socket once the driver's cache holds all N.
async fn reads(bench: &mut Bench) {
    let n = bench.n;
    let start = Instant::now();
    let whole = bench.wait_list(Duration::from_secs(300), |l| l.len() >= n).await;
    bench.report.figure(
        "creates done to all N in List",
        start.elapsed().as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    if !whole {
        bench.report.note("the driver's List never reached N within 300s");
    }
    // Let the controller's status writes for the new sandboxes settle (Ready via kwok).
    let start = Instant::now();
    let ready = bench
        .wait_list(Duration::from_secs(600), |l| {
            l.iter().filter(|s| crate::common::is_ready(s)).count() >= n
        })
        .await;
    bench.report.figure(
        "creates done to all N Ready",
        start.elapsed().as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    if !ready {
        bench
            .report
            .note("not all sandboxes were Ready within 600s; reads measured anyway");
    }
    let rss = bench.driver_rss();
    bench
        .report
        .figure(format!("RSS at {n} sandboxes"), rss, "MiB", "<= 100");
    let lists = 200;
    let mut samples = bench
        .phase("List", lists, async |b: &mut Bench| {
            let client = b.client.clone();
            latencies(lists, |_| {
                let mut c = client.clone();
                async move { c.list_sandboxes(ListSandboxesRequest {}).await.map(|_| ()) }
            })
            .await
        })
        .await;
    let (p50, p99) = percentiles_ms(&mut samples);
    bench.report.figure("ListSandboxes p50", p50, "ms", "<= 25");
    bench.report.figure("ListSandboxes p99", p99, "ms", "");
    let gets = 5000;
    let ids = bench.ids.clone();
    let mut samples = bench
        .phase("Get", gets, async |b: &mut Bench| {
            let client = b.client.clone();
            latencies(gets, |i| {
                let mut c = client.clone();
                let id = ids[(i * 7919) % ids.len()].clone();
                async move { c.get_sandbox(get_request(&id)).await.map(|_| ()) }
            })
            .await
        })
        .await;
    let (p50, p99) = percentiles_ms(&mut samples);
    bench.report.figure("GetSandbox p50", p50, "ms", "");
    bench.report.figure("GetSandbox p99", p99, "ms", "");
}

/// Every sandbox deleted through the driver; then does memory come back?
async fn deletes(bench: &mut Bench) {
    let remaining: Vec<String> = list_all(&mut bench.client)
        .await
        .map(|l| l.into_iter().map(|s| s.id).collect())
        .unwrap_or_default();
    let count = remaining.len();
    let Run {
        wall: took, failures, ..
    } = bench
        .phase("delete x64", count, async |b: &mut Bench| {
            let client = b.client.clone();
            let ids = std::sync::Arc::new(remaining);
            let idx: Vec<usize> = (0..ids.len()).collect();
            run_concurrently(idx, 64, move |i| {
                let mut c = client.clone();
                let id = ids[i].clone();
                async move {
                    c.delete_sandbox(DeleteSandboxRequest {
                        sandbox_id: id,
                        sandbox_name: String::new(),
                    })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
                }
            })
            .await
        })
        .await;
    bench.report.figure(
        "DeleteSandbox throughput, 64 callers",
        count as f64 / took.as_secs_f64(),
        "/s",
        "",
    );
    if failures > 0 {
        bench.report.note(format!("{failures} deletes failed"));
    }
    let start = Instant::now();
    let empty = bench.wait_list(Duration::from_secs(600), |l| l.is_empty()).await;
    bench.report.figure(
        "deletes done to an empty List",
        start.elapsed().as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    if !empty {
        bench.report.note("the List was not empty 600s after the deletes");
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = bench.driver_rss();
    let idle = bench
        .report
        .figures
        .iter()
        .find(|f| f.name == "RSS idle")
        .map_or(0.0, |f| f.value);
    bench.report.figure("RSS after all deleted", after, "MiB", "");
    bench
        .report
        .figure("RSS after all deleted / idle", after / idle.max(0.001), "x", "<= 1.2");
}
