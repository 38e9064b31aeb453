//! `render` goldens of the pod's extra volumes (issue #12, items 7 and 9): the SPIFFE Workload
//! API socket and the workspace at /sandbox. UPDATE_GOLDEN=1 rewrites them after a reviewed change.

use std::path::Path;

use openshell_driver_openshift::cli::render::{RenderArgs, render_yaml};
use openshell_driver_openshift::config::DriverConfig;

fn assert_golden(rendered: &str, name: &str) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, rendered).expect("write golden");
    }
    let want = std::fs::read_to_string(&golden).expect("golden file");
    assert_eq!(
        rendered, want,
        "render output changed; review and rerun with UPDATE_GOLDEN=1"
    );
}

fn example() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("examples/sandbox.yaml")).expect("example")
}

fn render(flags: &[&str]) -> Result<String, String> {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        config: DriverConfig,
    }
    let mut all = vec!["driver", "--gateway-id", "gw-1"];
    all.extend_from_slice(flags);
    let driver = <Only as clap::Parser>::try_parse_from(all)
        .map_err(|e| e.to_string())?
        .config;
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        namespace_annotations: Vec::new(),
        now: None,
        driver,
    };
    render_yaml(&example(), &args).map_err(|e| e.to_string())
}

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
