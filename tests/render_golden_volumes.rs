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
