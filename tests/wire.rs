//! The proto is wire-compatible with upstream: every fact of the shared wire contract appears
//! in the fingerprint of proto/. Needs python3 with grpcio-tools (`make deps` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn proto_matches_the_upstream_wire_contract() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let contract = root.join("../shared/contract");
    assert!(
        contract.is_dir(),
        "{} is missing: the wire contract lives in ../shared beside this repository",
        contract.display()
    );
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
