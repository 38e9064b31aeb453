//! `make bench`: what the hot paths cost, measured in-process (no cluster). Prints a table;
//! performance is tracked here, never asserted in tests.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use openshell_driver_openshift::config::DriverConfig;
use openshell_driver_openshift::kubernetes::cache::SandboxCache;
use openshell_driver_openshift::kubernetes::render::{SandboxApiVersion, render_sandbox};
use openshell_driver_openshift::metrics::NoopMetrics;
use openshell_driver_openshift::openshift::detect::PlatformFacts;
use openshell_driver_openshift::openshift::enrich_offline;
use openshell_driver_openshift::proto::json::json_to_struct;
use openshell_driver_openshift::proto::*;
use serde_json::json;

fn request(i: usize) -> DriverSandbox {
    DriverSandbox {
        id: format!("00000000-0000-4000-8000-{i:012}"),
        name: format!("sb-{i}"),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/bash".into(), "-l".into()],
            sandbox_token: "token".into(),
            environment: [("A".to_string(), "B".to_string())].into(),
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                resources: Some(DriverResourceRequirements {
                    cpu_limit: "1".into(),
                    memory_limit: "1Gi".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn object(config: &DriverConfig, i: usize) -> DynamicObject {
    let rendered = render_sandbox(&request(i), config, SandboxApiVersion::V1beta1, &[]).expect("renders");
    let mut obj: DynamicObject =
        serde_json::from_value(serde_json::to_value(&rendered.manifest).expect("json")).expect("object");
    obj.metadata.uid = Some(format!("uid-{i}"));
    obj.data["status"] = json!({"podIPs": ["10.0.0.1"], "conditions": [{"type": "Ready", "status": "True", "reason": "DependenciesReady"}]});
    obj
}

/// Runs `f` for about `budget` and returns the mean time per call.
fn per_op(budget: Duration, mut f: impl FnMut(usize)) -> Duration {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < budget {
        f(n);
        n += 1;
    }
    start.elapsed() / n.max(1) as u32
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = DriverConfig::defaults();
    let budget = Duration::from_millis(700);
    let mut rows: Vec<(String, Duration)> = Vec::new();

    rows.push((
        "render one Sandbox + token Secret".into(),
        per_op(budget, |i| {
            black_box(render_sandbox(&request(i), &config, SandboxApiVersion::V1beta1, &[]).expect("renders"));
        }),
    ));

    // The OpenShift additions on top: namespace annotations, SELinux, an exposed port behind the
    // OAuth proxy, and the Service/Route/cookie Secret beside it.
    let mut openshift = config.clone();
    openshift.openshift.selinux_type = "openshell_agent_t".into();
    let annotations = std::collections::BTreeMap::from([
        (
            "openshift.io/sa.scc.uid-range".to_string(),
            "1000680000/10000".to_string(),
        ),
        ("openshift.io/sa.scc.mcs".to_string(), "s0:c26,c5".to_string()),
    ]);
    let exposed = |i: usize| {
        let mut r = request(i);
        if let Some(t) = r.spec.as_mut().and_then(|s| s.template.as_mut()) {
            t.platform_config = json_to_struct(&json!({"expose": {"port": 8888, "auth": "openshift"}}));
        }
        r
    };
    rows.push((
        "render + OpenShift (SCC, SELinux, Route, OAuth proxy)".into(),
        per_op(budget, |i| {
            let r = exposed(i);
            let mut rendered =
                render_sandbox(&r, &openshift, SandboxApiVersion::V1beta1, &["expose"]).expect("renders");
            let made = enrich_offline(&r, &openshift, &mut rendered, &annotations, &PlatformFacts::default());
            black_box(made.expect("enriches"));
        }),
    ));

    for size in [100usize, 1000, 10_000] {
        let cache = SandboxCache::new(Arc::new(NoopMetrics));
        let objects: Vec<DynamicObject> = (0..size).map(|i| object(&config, i)).collect();
        let started = Instant::now();
        cache.apply(Event::Init);
        for o in &objects {
            cache.apply(Event::InitApply(o.clone()));
        }
        cache.apply(Event::InitDone);
        rows.push((format!("initial sync of {size} Sandboxes (total)"), started.elapsed()));
        let id = request(size / 2).id;
        rows.push((
            format!("GetSandbox from the cache ({size} cached)"),
            per_op(budget, |_| {
                black_box(cache.read(|i| i.get(&id).map(|v| v.snapshot.clone())));
            }),
        ));
        rows.push((
            format!("ListSandboxes from the cache ({size} cached)"),
            per_op(budget, |_| {
                black_box(cache.read(|i| i.all().iter().map(|v| v.snapshot.clone()).collect::<Vec<_>>()));
            }),
        ));
        // The socket's share with snapshots cloned and encoded per List, and the client's decode.
        let response = ListSandboxesResponse {
            sandboxes: cache.read(|i| i.all().iter().map(|v| v.snapshot.clone()).collect()),
            encoded: Vec::new(),
        };
        let encoded = prost::Message::encode_to_vec(&response);
        rows.push((
            format!("ListSandboxes response encoded ({size}, {} KiB)", encoded.len() / 1024),
            per_op(budget, |_| {
                black_box(prost::Message::encode_to_vec(&response));
            }),
        ));
        // What the driver does: each view's bytes, kept from the first List after it changed.
        rows.push((
            format!("ListSandboxes response from the kept bytes ({size})"),
            per_op(budget, |_| {
                let kept = ListSandboxesResponse {
                    sandboxes: Vec::new(),
                    encoded: cache.read(|i| i.all().iter().map(|v| v.encoded()).collect()),
                };
                black_box(prost::Message::encode_to_vec(&kept));
            }),
        ));
        rows.push((
            format!("ListSandboxes response decoded ({size})"),
            per_op(budget, |_| {
                black_box(<ListSandboxesResponse as prost::Message>::decode(encoded.as_slice()).expect("decodes"));
            }),
        ));
        let mut updated = objects[size / 2].clone();
        rows.push((
            format!("apply one watch update ({size} cached)"),
            per_op(budget, |n| {
                updated.data["status"]["podIPs"] = json!([format!("10.0.{}.{}", n / 250 % 250, n % 250)]);
                cache.apply(Event::Apply(updated.clone()));
            }),
        ));
        let (_tx, shutdown) = tokio::sync::watch::channel(false);
        rows.push((
            format!("new WatchSandboxes stream replays {size} (total)"),
            runtime.block_on(async {
                let started = Instant::now();
                let mut stream = cache.stream(shutdown.clone());
                for _ in 0..size {
                    black_box(stream.next().await);
                }
                started.elapsed()
            }),
        ));
    }

    println!("{:<52} {:>12}", "operation", "time");
    for (name, d) in rows {
        let shown = if d < Duration::from_micros(10) {
            format!("{} ns", d.as_nanos())
        } else {
            format!("{:.1} µs", d.as_secs_f64() * 1e6)
        };
        println!("{name:<52} {shown:>12}");
    }
}
