//! `make bench-cluster`: the driver at N sandboxes on the local cluster (hack/cluster/up.sh with
//! kwok nodes), measured through its socket by an independent client. Prints a table and writes
//! it as JSON. A benchmark, not a test: it asserts nothing and never fails on a slow figure.
//!
//! Env: KUBECONFIG, CLUSTER_DIR, KUBECTL (as tier 3), BENCH_N (1000), BENCH_OUT (JSON path).

#[path = "../../tests/common/mod.rs"]
mod common;
mod lag;
mod load;
mod measure;
mod phases;
mod raw_identity;
mod report;
mod streams;

use std::path::PathBuf;

fn main() {
    // `cargo bench` passes --bench; the harness is ours.
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let Some(cluster_dir) = std::env::var_os("CLUSTER_DIR").map(PathBuf::from) else {
        eprintln!("bench-cluster needs a cluster from hack/cluster/up.sh: run `make bench-cluster`");
        std::process::exit(2);
    };
    let out = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("target/bench-cluster-{n}.json")));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = runtime.block_on(phases::run(n, &cluster_dir));
    println!("{}", report.table());
    let json = serde_json::to_string_pretty(&report.json()).expect("json");
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&out, json).expect("write the JSON report");
    println!("written: {}", out.display());
}
