//! `render` goldens of the pod's extra volumes (issue #12, items 7 and 9): the SPIFFE Workload
//! API socket and the workspace at /sandbox. UPDATE_GOLDEN=1 rewrites them after a reviewed change.

#[path = "support/golden.rs"]
mod golden;

use golden::*;

#[test]
fn render_shows_the_spiffe_socket_as_a_csi_volume_and_the_supervisors_variable() {
    let rendered = render(&["--provider-spiffe-socket", "/spiffe-workload-api/spire-agent.sock"]).expect("renders");
    assert_golden(&rendered, "render-sandbox-spiffe.yaml");
    for needle in [
        "- name: OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET\n          value: /spiffe-workload-api/spire-agent.sock",
        "- mountPath: /spiffe-workload-api\n          name: spiffe-workload-api\n          readOnly: true",
        "- csi:\n          driver: csi.spiffe.io\n          readOnly: true\n        name: spiffe-workload-api",
    ] {
        assert!(rendered.contains(needle), "{needle}\n{rendered}");
    }
    // Upstream's flag name is accepted for the same setting.
    let upstream = render(&[
        "--provider-spiffe-workload-api-socket-path",
        "/spiffe-workload-api/spire-agent.sock",
    ])
    .expect("renders");
    assert_eq!(upstream, rendered);
}

#[test]
fn render_refuses_a_spiffe_socket_the_supervisor_could_not_use_naming_the_flag() {
    for bad in [
        "/agent.sock",
        "/run/agent.sock",
        "spiffe/agent.sock",
        "/run/openshell/agent.sock",
    ] {
        let err = render(&["--provider-spiffe-socket", bad]).expect_err(bad);
        assert!(err.contains("--provider-spiffe-socket"), "{bad}: {err}");
    }
}

#[test]
fn render_shows_the_workspace_claim_by_default_and_an_emptydir_when_ephemeral() {
    let persistent = render(&["--workspace-size", "5Gi", "--workspace-storage-class", "fast-ssd"]).expect("renders");
    for needle in [
        "  volumeClaimTemplates:\n  - metadata:",
        "      storageClassName: fast-ssd",
        "          storage: 5Gi",
        "        - seed-workspace\n        - /sandbox\n        - /openshell-workspace-seed",
    ] {
        assert!(persistent.contains(needle), "{needle}\n{persistent}");
    }
    let ephemeral = render(&["--workspace-volume", "ephemeral"]).expect("renders");
    assert_golden(&ephemeral, "render-sandbox-workspace-ephemeral.yaml");
    assert!(!ephemeral.contains("volumeClaimTemplates"), "{ephemeral}");
    assert!(
        ephemeral.contains("      - emptyDir: {}\n        name: workspace"),
        "{ephemeral}"
    );
    let off = render(&["--workspace-volume", "off"]).expect("renders");
    assert!(
        !off.contains("workspace-init") && !off.contains("mountPath: /sandbox"),
        "{off}"
    );
    let err = render(&["--workspace-size", "0Gi"]).expect_err("zero size");
    assert!(err.contains("--workspace-size"), "{err}");
}
