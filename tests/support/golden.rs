//! What the `render` golden tests share: the golden comparison, the example request, and a
//! driver configuration parsed from flags as `render` parses them. Each golden test file uses
//! a part of it.
#![allow(dead_code)]

use std::path::Path;

use openshell_driver_openshift::cli::render::{RenderArgs, render_yaml};
use openshell_driver_openshift::config::DriverConfig;

/// Compares with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it after a reviewed change.
pub fn assert_golden(rendered: &str, name: &str) {
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

/// examples/sandbox.yaml.
pub fn example() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("examples/sandbox.yaml")).expect("example")
}

pub fn args(driver: DriverConfig) -> RenderArgs {
    RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        namespace_annotations: Vec::new(),
        now: None,
        driver,
    }
}

/// The driver's flags (after `--gateway-id gw-1`), or clap's refusal.
pub fn try_parsed(flags: &[&str]) -> Result<DriverConfig, String> {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        config: DriverConfig,
    }
    let mut all = vec!["driver", "--gateway-id", "gw-1"];
    all.extend_from_slice(flags);
    <Only as clap::Parser>::try_parse_from(all)
        .map(|o| o.config)
        .map_err(|e| e.to_string())
}

pub fn parsed(flags: &[&str]) -> DriverConfig {
    try_parsed(flags).expect("flags parse")
}

/// The example rendered under `flags`, or why not.
pub fn render(flags: &[&str]) -> Result<String, String> {
    render_yaml(&example(), &args(try_parsed(flags)?)).map_err(|e| e.to_string())
}
