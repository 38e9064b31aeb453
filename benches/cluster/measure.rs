//! What the cluster benchmark reads besides its own timings: percentiles, the CPU time and RSS
//! of each process (from /proc), and the API server's own request counters (from /metrics).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// p50 and p99 (nearest rank) in milliseconds.
pub fn percentiles_ms(samples: &mut [Duration]) -> (f64, f64) {
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort();
    let at = |q: f64| {
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// CPU seconds (user + system) a process has used so far; 0 when it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    100.0
}

/// Resident set size in MiB (VmRSS).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The control plane's processes from the cluster's `pids` file (the last one of each name:
/// a restarted API server is appended).
pub fn control_plane(cluster_dir: &Path) -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(cluster_dir.join("pids")).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some((pid, name)) = line.split_once(' ')
            && let Ok(pid) = pid.parse()
        {
            out.insert(name.to_string(), pid);
        }
    }
    out
}

/// CPU seconds of every process of interest at one moment.
#[derive(Clone, Debug, Default)]
pub struct CpuSnapshot(pub BTreeMap<String, f64>);

impl CpuSnapshot {
    pub fn take(processes: &BTreeMap<String, u32>) -> Self {
        Self(processes.iter().map(|(n, p)| (n.clone(), cpu_seconds(*p))).collect())
    }

    pub fn since(&self, earlier: &Self) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .map(|(n, v)| (n.clone(), (v - earlier.0.get(n).copied().unwrap_or(0.0)).max(0.0)))
            .collect()
    }
}

/// The counters of the API server's /metrics the benchmark compares between phases.
#[derive(Clone, Debug, Default)]
pub struct ApiCounters {
    /// Requests the driver's identity sent: APF dispatches of its flow schema
    /// (ServiceAccounts fall into `service-accounts`; the admin client is exempt).
    pub driver: f64,
    /// All requests by `VERB resource`.
    pub by_verb: BTreeMap<String, f64>,
}

pub const DRIVER_FLOW_SCHEMA: &str = "service-accounts";

impl ApiCounters {
    pub fn parse(exposition: &str) -> Self {
        let mut out = Self::default();
        for line in exposition.lines().filter(|l| !l.starts_with('#')) {
            let Some((series, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            if series.starts_with("apiserver_flowcontrol_dispatched_requests_total{")
                && label(series, "flow_schema") == Some(DRIVER_FLOW_SCHEMA)
            {
                out.driver += value;
            } else if series.starts_with("apiserver_request_total{")
                && let (Some(verb), Some(resource)) = (label(series, "verb"), label(series, "resource"))
            {
                *out.by_verb.entry(format!("{verb} {resource}")).or_default() += value;
            }
        }
        out
    }

    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            driver: self.driver - earlier.driver,
            by_verb: self
                .by_verb
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.by_verb.get(k).copied().unwrap_or(0.0)))
                .filter(|(_, v)| *v > 0.0)
                .collect(),
        }
    }
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let end = series[start..].find('"')? + start;
    Some(&series[start..end])
}

pub async fn api_counters(admin: &kube::Client) -> ApiCounters {
    let request = http::Request::get("/metrics").body(Vec::new()).expect("request");
    match admin.request_text(request).await {
        Ok(text) => ApiCounters::parse(&text),
        Err(e) => {
            eprintln!("bench: reading the API server's /metrics failed: {e}");
            ApiCounters::default()
        }
    }
}

/// The driver's own view of its creates, from its `/metrics` histograms: the mean time of a
/// CreateSandbox call and of its Sandbox POST, in ms (after `since`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DriverTimes {
    create: (f64, f64),
    post: (f64, f64),
    pub create_ms: f64,
    pub post_ms: f64,
}

impl DriverTimes {
    pub async fn scrape(metrics_addr: &str) -> Self {
        let (_, text) = crate::common::http_get(metrics_addr, "/metrics").await;
        Self {
            create: histogram_total(
                &text,
                "openshell_driver_grpc_request_duration_seconds",
                "\"CreateSandbox\"",
            ),
            post: histogram_total(
                &text,
                "openshell_driver_kube_request_duration_seconds",
                "resource=\"sandboxes\"",
            ),
            ..Default::default()
        }
    }

    pub fn since(&self, earlier: &Self) -> Self {
        let mean_ms = |now: (f64, f64), then: (f64, f64)| (now.0 - then.0) * 1000.0 / (now.1 - then.1).max(1.0);
        Self {
            create_ms: mean_ms(self.create, earlier.create),
            post_ms: mean_ms(self.post, earlier.post),
            ..*self
        }
    }
}

/// (sum, count) of histogram `name` over its series whose labels contain `with` (and, for the
/// POST, the verb create).
fn histogram_total(exposition: &str, name: &str, with: &str) -> (f64, f64) {
    let value = |suffix: &str| -> f64 {
        exposition
            .lines()
            .filter(|l| l.starts_with(&format!("{name}_{suffix}{{")) && l.contains(with))
            .filter(|l| !l.contains("verb=") || l.contains("verb=\"create\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    (value("sum"), value("count"))
}
