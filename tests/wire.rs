//! The proto is wire-compatible with upstream: every fact of the shared wire contract appears
//! in the fingerprint of proto/. Needs python3 with grpcio-tools (`make deps` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn proto_matches_the_upstream_wire_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contract = shared_contract(root).unwrap_or_else(|| {
        panic!(
            "the wire contract (shared/contract) was not found: it lives in ../shared beside this repository \
             (or set OPENSHELL_SHARED_DIR; a clone of a local checkout also finds the one beside its origin)"
        )
    });
    let out = Command::new("python3")
        .arg(contract.join("wire_fingerprint.py"))
        .arg(root.join("proto"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "wire_fingerprint.py failed (pip install grpcio-tools?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: std::collections::HashSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let expected = std::fs::read_to_string(contract.join("compute_driver.wire.txt")).expect("wire contract");
    let missing: Vec<&str> = expected
        .lines()
        .filter(|l| !l.trim().is_empty() && !ours.contains(*l))
        .collect();
    assert!(
        missing.is_empty(),
        "proto/ differs from upstream on the wire:\n{}",
        missing.join("\n")
    );
    assert!(
        ours.iter().any(|l| l.contains("ResolveSandboxEndpoint")),
        "our extension RPC is present"
    );
}

/// `shared/contract`: from OPENSHELL_SHARED_DIR, beside this repository, or beside the repository
/// this one was cloned from when that is a local path (a fresh clone made anywhere for a CI trial).
fn shared_contract(root: &Path) -> Option<PathBuf> {
    let origin = Command::new("git")
        .args(["-C", &root.to_string_lossy(), "config", "--get", "remote.origin.url"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|url| url.starts_with('/'))
        .map(|url| Path::new(&url).join("../shared"));
    let candidates = [
        std::env::var_os("OPENSHELL_SHARED_DIR").map(PathBuf::from),
        Some(root.join("../shared")),
        origin,
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|shared| shared.join("contract"))
        .find(|c| c.join("compute_driver.wire.txt").is_file())
}
