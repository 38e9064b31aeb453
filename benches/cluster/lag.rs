//! Watch lag with 1, 10 and 100 WatchSandboxes streams, and what the streams get across an
//! API-server restart.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, Patch, PatchParams};
use openshell_driver_openshift::kubernetes::identity::{LABEL_SANDBOX_NAME, Ownership};
use serde_json::json;
use tokio::sync::mpsc;

use crate::common::list_all;
use crate::measure::percentiles_ms;
use crate::phases::Bench;
use crate::streams::{Arrival, Seen, open, reference_watch};

const PATCHES: usize = 100;
const STREAM_LEVELS: [usize; 3] = [1, 10, 100];

pub async fn watch_lag_and_relist(bench: &mut Bench) {
    let list = list_all(&mut bench.client).await.unwrap_or_default();
    // Sandbox id → its object name, for patches made straight to the API server.
    let objects: Vec<(String, String)> = list
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.status.as_ref()?.sandbox_name.clone())))
        .collect();
    if objects.len() < 20 {
        bench.report.note("too few sandboxes for the watch measurements");
        return;
    }
    let selector = Ownership::new(&bench.namespace).selector();
    let mut reference = reference_watch(bench.sandboxes(&bench.admin), &selector);
    let (tx, mut arrivals) = mpsc::unbounded_channel();
    let mut open_streams = 0;
    for level in STREAM_LEVELS {
        let start = Instant::now();
        let mut replays = Vec::new();
        while open_streams < level {
            replays.push(open(&mut bench.client, open_streams, objects.len(), tx.clone()).await);
            open_streams += 1;
        }
        for r in replays {
            let _ = r.await;
        }
        bench.report.figure(
            format!(
                "{level} streams: replay of {} sandboxes to the new streams",
                objects.len()
            ),
            start.elapsed().as_secs_f64() * 1000.0,
            "ms",
            "",
        );
        let phase = format!("watch lag, {level} streams");
        let (mut from_api, mut from_patch, missing) = bench
            .phase(&phase, PATCHES, async |b: &mut Bench| {
                lag_round(b, &objects, level, &mut reference, &mut arrivals).await
            })
            .await;
        let (p50, p99) = percentiles_ms(&mut from_api);
        let target = if level == 100 { "<= 10" } else { "" };
        bench.report.figure(
            format!("watch lag p50, {level} streams (from the API's watch)"),
            p50,
            "ms",
            "",
        );
        bench.report.figure(
            format!("watch lag p99, {level} streams (from the API's watch)"),
            p99,
            "ms",
            target,
        );
        let (p50, p99) = percentiles_ms(&mut from_patch);
        bench.report.figure(
            format!("watch lag p50, {level} streams (from the patch sent)"),
            p50,
            "ms",
            "",
        );
        bench.report.figure(
            format!("watch lag p99, {level} streams (from the patch sent)"),
            p99,
            "ms",
            "",
        );
        if missing > 0 {
            bench.report.note(format!(
                "{level} streams: {missing} (change, stream) pairs never arrived"
            ));
        }
    }
    relist(bench, &objects, open_streams, &mut arrivals).await;
}

/// PATCHES label patches, one at a time; each waits until every stream has it. Returns the
/// lags from the reference watch and from the patch, per (change, stream), and how many never came.
async fn lag_round(
    bench: &mut Bench,
    objects: &[(String, String)],
    streams: usize,
    reference: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
) -> (Vec<Duration>, Vec<Duration>, usize) {
    let api = bench.sandboxes(&bench.admin);
    let (mut from_api, mut from_patch, mut missing) = (Vec::new(), Vec::new(), 0);
    drain(arrivals);
    while reference.try_recv().is_ok() {}
    for p in 0..PATCHES {
        let (id, object) = &objects[(p * 31) % objects.len()];
        let marker = format!("lag-{streams}-{p}");
        let patch = json!({"metadata": {"labels": {LABEL_SANDBOX_NAME: marker}}});
        let sent = Instant::now();
        if let Err(e) = api.patch(object, &PatchParams::default(), &Patch::Merge(&patch)).await {
            eprintln!("bench: patch failed: {e}");
            continue;
        }
        let mut seen_at: HashMap<usize, Instant> = HashMap::new();
        let mut api_at = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while seen_at.len() < streams || api_at.is_none() {
            tokio::select! {
                Some(a) = arrivals.recv() => {
                    if let Seen::Snapshot { id: got, name } = &a.seen && got == id && *name == marker {
                        seen_at.entry(a.stream).or_insert(a.at);
                    }
                }
                Some((name, at)) = reference.recv() => if name == marker { api_at = Some(at) },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        missing += streams - seen_at.len();
        for at in seen_at.values() {
            from_patch.push(at.duration_since(sent));
            if let Some(api_at) = api_at {
                from_api.push(at.saturating_duration_since(api_at));
            }
        }
    }
    (from_api, from_patch, missing)
}

fn drain(arrivals: &mut mpsc::UnboundedReceiver<Arrival>) -> usize {
    let mut n = 0;
    while arrivals.try_recv().is_ok() {
        n += 1;
    }
    n
}

const RELIST_CHANGES: usize = 10;

/// Restarts the API server, then deletes and renames RELIST_CHANGES sandboxes each: how long
/// until every stream has all of them, and did any stream get more (a duplicate snapshot) or
/// less (a missed deletion)?
async fn relist(
    bench: &mut Bench,
    objects: &[(String, String)],
    streams: usize,
    arrivals: &mut mpsc::UnboundedReceiver<Arrival>,
) {
    tokio::time::sleep(Duration::from_secs(1)).await;
    drain(arrivals);
    let script = std::env::current_dir()
        .expect("cwd")
        .join("hack/cluster/restart-apiserver.sh");
    let restart = bench.cluster_dir.clone();
    let log_before = bench.driver.log().matches("watch failed").count();
    let ready_at = bench
        .phase("API-server restart", 1, async |_b: &mut Bench| {
            let status =
                tokio::task::spawn_blocking(move || std::process::Command::new(script).arg(restart).arg("1").status())
                    .await;
            if !matches!(status, Ok(Ok(s)) if s.success()) {
                eprintln!("bench: restarting the API server failed: {status:?}");
            }
            Instant::now()
        })
        .await;
    let api = bench.sandboxes(&bench.admin);
    // The API server's own share of the relist: until it serves Sandboxes again (its CRD
    // handlers and watch cache come back after /readyz), no driver can relist.
    let serving = loop {
        if api.list(&kube::api::ListParams::default().limit(1)).await.is_ok() {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    bench.report.figure(
        "relist: API server ready to Sandboxes listed again (admin)",
        serving.duration_since(ready_at).as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    let deleted: HashSet<&str> = objects[..RELIST_CHANGES].iter().map(|(id, _)| id.as_str()).collect();
    let renamed: HashSet<&str> = objects[RELIST_CHANGES..2 * RELIST_CHANGES]
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    for (_, object) in &objects[..RELIST_CHANGES] {
        let _ = api.delete(object, &DeleteParams::background()).await;
    }
    for (_, object) in &objects[RELIST_CHANGES..2 * RELIST_CHANGES] {
        let patch = json!({"metadata": {"labels": {LABEL_SANDBOX_NAME: "after-restart"}}});
        let _ = api.patch(object, &PatchParams::default(), &Patch::Merge(&patch)).await;
    }
    // Per stream: the expected changes it has, and everything else it got.
    let want = 2 * RELIST_CHANGES;
    let mut got: HashMap<usize, HashSet<String>> = HashMap::new();
    let mut extra: HashMap<usize, usize> = HashMap::new();
    let mut caught_up = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let quiet_until = |t: Option<Instant>| t.map(|t| tokio::time::Instant::from_std(t + Duration::from_secs(5)));
    loop {
        let until = quiet_until(caught_up).unwrap_or(deadline).min(deadline);
        let a = tokio::select! {
            Some(a) = arrivals.recv() => a,
            _ = tokio::time::sleep_until(until) => break,
        };
        let expected = match &a.seen {
            Seen::Deleted { id } if deleted.contains(id.as_str()) => Some(format!("deleted {id}")),
            Seen::Snapshot { id, name } if renamed.contains(id.as_str()) && name == "after-restart" => {
                Some(format!("renamed {id}"))
            }
            // A deleted sandbox's last snapshot (deletionTimestamp set) is a real change too.
            Seen::Snapshot { id, .. } if deleted.contains(id.as_str()) => None,
            _ => {
                *extra.entry(a.stream).or_default() += 1;
                None
            }
        };
        if let Some(key) = expected {
            let set = got.entry(a.stream).or_default();
            set.insert(key);
            if caught_up.is_none() && got.len() == streams && got.values().all(|s| s.len() == want) {
                caught_up = Some(a.at);
            }
        }
    }
    let r = &mut bench.report;
    match caught_up {
        Some(at) => r.figure(
            format!("relist: API server ready to all {streams} streams caught up"),
            at.duration_since(ready_at).as_secs_f64() * 1000.0,
            "ms",
            "<= 2000",
        ),
        None => r.note(format!("relist: not every stream had the {want} changes within 60s")),
    }
    let missed: usize = (0..streams).map(|s| want - got.get(&s).map_or(0, |g| g.len())).sum();
    let duplicates: usize = extra.values().sum();
    r.figure(
        format!("relist: changes missed over {streams} streams"),
        missed as f64,
        "",
        "0",
    );
    r.figure(
        format!("relist: other events over {streams} streams"),
        duplicates as f64,
        "",
        "0",
    );
    let log = bench.driver.log();
    // The timeline of the driver's watches across the restart, for whoever reads the run.
    for line in log
        .lines()
        .filter(|l| l.contains("watch"))
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .iter()
        .rev()
    {
        eprintln!("bench: driver: {line}");
    }
    let watch_errors = log.matches("watch failed").count() - log_before;
    r.note(format!(
        "relist: the driver logged {watch_errors} watch failures across the restart"
    ));
}
