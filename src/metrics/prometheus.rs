//! [`DriverMetrics`] exported in the Prometheus text format. Label sets are bounded: methods,
//! codes, verbs, resources, reasons and phases; never a sandbox id.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::DriverMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeLabels {
    verb: String,
    resource: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeLatencyLabels {
    verb: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileLabels {
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MemberLabels {
    profile: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

/// 1 ms .. ~33 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

pub struct PrometheusMetrics {
    registry: Mutex<Registry>,
    grpc_requests: Family<RpcLabels, Counter>,
    grpc_latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    created: Counter,
    deleted: Counter,
    failed: Family<ReasonLabels, Counter>,
    sandboxes: Family<PhaseLabels, Gauge>,
    watch_streams: Gauge,
    watch_events: Family<KindLabels, Counter>,
    kube_requests: Family<KubeLabels, Counter>,
    kube_latency: Family<KubeLatencyLabels, Histogram, fn() -> Histogram>,
    warm_members: Family<MemberLabels, Gauge>,
    warm_binds: Family<ProfileLabels, Counter>,
    warm_bind_latency: Family<ProfileLabels, Histogram, fn() -> Histogram>,
    warm_misses: Family<ReasonLabels, Counter>,
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("openshell_driver");
        let this = Self {
            registry: Mutex::new(Registry::default()),
            grpc_requests: Family::default(),
            grpc_latency: Family::new_with_constructor(latency_histogram),
            created: Counter::default(),
            deleted: Counter::default(),
            failed: Family::default(),
            sandboxes: Family::default(),
            watch_streams: Gauge::default(),
            watch_events: Family::default(),
            kube_requests: Family::default(),
            kube_latency: Family::new_with_constructor(latency_histogram),
            warm_members: Family::default(),
            warm_binds: Family::default(),
            warm_bind_latency: Family::new_with_constructor(latency_histogram),
            warm_misses: Family::default(),
        };
        registry.register(
            "grpc_requests",
            "gRPC requests by method and code",
            this.grpc_requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC request latency",
            this.grpc_latency.clone(),
        );
        registry.register("sandboxes_created", "Sandboxes created", this.created.clone());
        registry.register("sandboxes_deleted", "Sandboxes deleted", this.deleted.clone());
        registry.register(
            "sandbox_failures",
            "Failed sandbox creations by reason",
            this.failed.clone(),
        );
        registry.register("sandboxes", "Sandboxes in the cache by phase", this.sandboxes.clone());
        registry.register(
            "watch_streams",
            "Open WatchSandboxes streams",
            this.watch_streams.clone(),
        );
        registry.register(
            "watch_events",
            "Watch events sent to the gateway by kind",
            this.watch_events.clone(),
        );
        registry.register(
            "kube_requests",
            "Kubernetes API calls by verb, resource and outcome",
            this.kube_requests.clone(),
        );
        registry.register(
            "kube_request_duration_seconds",
            "Kubernetes API call latency",
            this.kube_latency.clone(),
        );
        registry.register(
            "warm_members",
            "Unbound warm pool members by profile and state (ready, starting)",
            this.warm_members.clone(),
        );
        registry.register(
            "warm_binds",
            "Creates bound to a warm member, by profile",
            this.warm_binds.clone(),
        );
        registry.register(
            "warm_bind_duration_seconds",
            "Time a bind took (claim, Secrets, patch), by profile",
            this.warm_bind_latency.clone(),
        );
        registry.register(
            "warm_misses",
            "Creates that went cold with a pool configured, by reason",
            this.warm_misses.clone(),
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").into(),
            })
            .set(1);
        registry.register("build_info", "Build information", build);
        *this.registry.lock().unwrap_or_else(|e| e.into_inner()) = registry;
        this
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

impl DriverMetrics for PrometheusMetrics {
    fn rpc_completed(&self, method: &'static str, code: tonic::Code, elapsed: Duration) {
        let code = format!("{code:?}");
        self.grpc_requests
            .get_or_create(&RpcLabels {
                method: method.into(),
                code,
            })
            .inc();
        self.grpc_latency
            .get_or_create(&MethodLabels { method: method.into() })
            .observe(elapsed.as_secs_f64());
    }

    fn sandbox_created(&self) {
        self.created.inc();
    }

    fn sandbox_deleted(&self) {
        self.deleted.inc();
    }

    fn sandbox_failed(&self, reason: &'static str) {
        self.failed.get_or_create(&ReasonLabels { reason: reason.into() }).inc();
    }

    fn watch_stream_opened(&self) {
        self.watch_streams.inc();
    }

    fn watch_stream_closed(&self) {
        self.watch_streams.dec();
    }

    fn watch_event_sent(&self, kind: &'static str) {
        self.watch_events.get_or_create(&KindLabels { kind: kind.into() }).inc();
    }

    fn kube_call(&self, verb: &'static str, resource: &'static str, outcome: &'static str, elapsed: Duration) {
        self.kube_requests
            .get_or_create(&KubeLabels {
                verb: verb.into(),
                resource: resource.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.kube_latency
            .get_or_create(&KubeLatencyLabels {
                verb: verb.into(),
                resource: resource.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    fn active_sandboxes(&self, by_phase: &[(&'static str, i64)]) {
        for (phase, count) in by_phase {
            self.sandboxes
                .get_or_create(&PhaseLabels { phase: (*phase).into() })
                .set(*count);
        }
    }

    fn warm_members(&self, profile: &str, ready: usize, starting: usize) {
        for (state, count) in [("ready", ready), ("starting", starting)] {
            let labels = MemberLabels {
                profile: profile.into(),
                state: state.into(),
            };
            self.warm_members
                .get_or_create(&labels)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    fn warm_bound(&self, profile: &str, elapsed: Duration) {
        let labels = ProfileLabels {
            profile: profile.into(),
        };
        self.warm_binds.get_or_create(&labels).inc();
        self.warm_bind_latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    fn warm_miss(&self, reason: &'static str) {
        self.warm_misses
            .get_or_create(&ReasonLabels { reason: reason.into() })
            .inc();
    }
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
