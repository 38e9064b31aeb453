//! `render` output is pinned by a golden file (UPDATE_GOLDEN=1 rewrites it after a reviewed
//! change).

use std::path::Path;

use openshell_driver_openshift::cli::render::{RenderArgs, render_yaml};
use openshell_driver_openshift::config::DriverConfig;

#[test]
fn render_matches_golden_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read_to_string(root.join("examples/sandbox.yaml")).expect("example");
    let mut driver = DriverConfig::defaults();
    driver.gateway_endpoint = "https://gateway.example:8443".into();
    driver.gateway_id = "gw-1".into();
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        driver,
    };
    let rendered = render_yaml(&input, &args).expect("renders");
    let golden = root.join("tests/golden/render-sandbox.yaml");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &rendered).expect("write golden");
    }
    let want = std::fs::read_to_string(&golden).expect("golden file");
    assert_eq!(
        rendered, want,
        "render output changed; review and rerun with UPDATE_GOLDEN=1"
    );
    assert!(
        !rendered.contains("example-token-value"),
        "the token never appears in render output"
    );
}

#[test]
fn render_rejects_unknown_fields_and_bad_input() {
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: true,
        driver: DriverConfig::defaults(),
    };
    let err = render_yaml("name: demo\nspek: {}\n", &args).expect_err("unknown field");
    assert!(err.to_string().contains("spek"), "{err}");
    let err = render_yaml("name: Demo!\nspec: {template: {image: x}}\n", &args).expect_err("bad name");
    assert!(err.to_string().contains("name"), "{err}");
    let alpha = render_yaml("name: demo\nspec: {template: {image: x}}\n", &args).expect("renders");
    assert!(
        alpha.contains("agents.x-k8s.io/v1alpha1") && alpha.contains("replicas: 1"),
        "{alpha}"
    );
}
