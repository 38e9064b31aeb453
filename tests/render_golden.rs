//! `render` output is pinned by a golden file (UPDATE_GOLDEN=1 rewrites it after a reviewed
//! change).

use std::path::Path;

#[path = "support/golden.rs"]
mod golden;

use golden::assert_golden;

use openshell_driver_openshift::cli::render::{RenderArgs, render_yaml};
use openshell_driver_openshift::config::{AppArmor, DriverConfig, PlatformMode, SandboxAuth, WorkspaceMode};
use openshell_driver_openshift::kubernetes::sideload::SupervisorSideload;

/// The driver settings the examples are rendered with.
fn example_driver() -> DriverConfig {
    let mut driver = DriverConfig::defaults();
    driver.gateway_endpoint = "https://gateway.example:8443".into();
    driver.client_tls_secret = "openshell-client-tls".into();
    driver.gateway_id = "gw-1".into();
    driver
}

#[test]
fn render_matches_golden_yaml() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read_to_string(root.join("examples/sandbox.yaml")).expect("example");
    let mut driver = example_driver();
    let args = |driver: DriverConfig| RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        namespace_annotations: Vec::new(),
        now: None,
        driver,
    };
    // The default identity: a projected ServiceAccount token; the gateway's token is stored nowhere.
    let rendered = render_yaml(&input, &args(driver.clone())).expect("renders");
    assert_golden(&rendered, "render-sandbox.yaml");
    // The supervisor and the launcher copied by init containers instead of mounted.
    let mut copied = driver.clone();
    copied.supervisor_sideload = SupervisorSideload::InitContainer;
    let init_container = render_yaml(&input, &args(copied)).expect("renders");
    assert_golden(&init_container, "render-sandbox-init-container.yaml");
    // The sidecar topology: network-init and the network supervisor in the supervisor's image,
    // the agent as the sandbox user with no capabilities and none of the gateway's credentials.
    let mut sidecar = driver.clone();
    sidecar.topology.topology = openshell_driver_openshift::kubernetes::topology::Topology::Sidecar;
    let sidecar = render_yaml(&input, &args(sidecar)).expect("renders");
    assert_golden(&sidecar, "render-sandbox-sidecar.yaml");
    // A time to live: spec.shutdownTime from a fixed create time, and the expiry policy.
    let mut expiring = driver.clone();
    expiring.default_ttl = std::time::Duration::from_secs(8 * 3600);
    // and a gateway on the host, by the names the cluster's DNS does not know.
    expiring.host_gateway_ip = Some("172.17.0.1".parse().expect("ip"));
    let expiry = render_yaml(
        &input,
        &RenderArgs {
            now: Some("2026-03-01T10:00:00Z".parse().expect("time")),
            ..args(expiring)
        },
    )
    .expect("renders");
    assert_golden(&expiry, "render-sandbox-expiry.yaml");
    assert!(expiry.contains("shutdownTime: 2026-03-01T18:00:00Z") && expiry.contains("shutdownPolicy: Retain"));
    // Managed mode: the workspace's own namespace, with the Secrets copied into it; operator
    // mode: the platform team's namespace of the workspace's name, on the allowlist.
    let mut managed = driver.clone();
    managed.workspace_mode = WorkspaceMode::Managed;
    managed.image_pull_secrets = vec!["regcred".into()];
    let managed = render_yaml(&input, &args(managed)).expect("renders");
    assert_golden(&managed, "render-sandbox-managed.yaml");
    let mut operator = driver.clone();
    operator.workspace_mode = WorkspaceMode::Operator;
    operator.operator_namespace_label = "openshell.ai/workspace=true".into();
    let operator = render_yaml(&input, &args(operator)).expect("renders");
    assert_golden(&operator, "render-sandbox-operator.yaml");
    // The gateway's token in a Secret, and an AppArmor choice.
    driver.sandbox_auth = SandboxAuth::TokenFile;
    driver.app_armor_profile = AppArmor::Unconfined;
    let token_file = render_yaml(&input, &args(driver)).expect("renders");
    assert_golden(&token_file, "render-sandbox-token-file.yaml");
    for out in [&rendered, &token_file] {
        assert!(
            !out.contains("example-token-value"),
            "the token never appears in render output"
        );
    }
}

#[test]
fn render_rejects_unknown_fields_and_bad_input() {
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: true,
        namespace_annotations: Vec::new(),
        now: None,
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

#[test]
fn render_for_openshift_shows_scc_selinux_route_and_proxy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read_to_string(root.join("examples/sandbox-openshift.yaml")).expect("example");
    let mut driver = DriverConfig::defaults();
    driver.gateway_id = "gw-1".into();
    driver.openshift.platform = PlatformMode::Openshift;
    driver.openshift.selinux_type = "openshell_agent_t".into();
    let annotations = [
        ("openshift.io/sa.scc.uid-range", "1000680000/10000"),
        ("openshift.io/sa.scc.supplemental-groups", "1000680000/10000"),
        ("openshift.io/sa.scc.mcs", "s0:c26,c5"),
    ];
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        namespace_annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        now: None,
        driver: driver.clone(),
    };
    let rendered = render_yaml(&input, &args).expect("renders");
    assert_golden(&rendered, "render-sandbox-openshift.yaml");
    for wanted in [
        "openshift.io/required-scc: openshell-sandbox",
        "- name: OPENSHELL_SANDBOX_UID\n          value: '1000680000'",
        "type: openshell_agent_t",
        "level: s0:c26,c5",
        "kind: Route",
        "termination: reencrypt",
        "host: notebook.apps.example.com",
        "name: oauth-proxy",
        "service.beta.openshift.io/serving-cert-secret-name",
    ] {
        assert!(rendered.contains(wanted), "missing {wanted:?}");
    }
    assert!(!rendered.contains("example-token-value"), "the token never appears");

    // The same request for plain Kubernetes: exposure is refused, naming the flag.
    driver.openshift.platform = PlatformMode::Kubernetes;
    let vanilla = RenderArgs { driver, ..args };
    let err = render_yaml(&input, &vanilla).expect_err("no Routes on Kubernetes");
    assert!(err.to_string().contains("--platform openshift"), "{err}");
}

/// `render --warm-pool-config`: after the cold rendering, the member a matching create binds and
/// what the bind writes, with the token and the variables' values left out; another image goes
/// cold and says why.
#[test]
fn warm_render_shows_the_member_and_the_bind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let input = std::fs::read_to_string(root.join("examples/sandbox-warm.yaml")).expect("example");
    let mut driver = example_driver();
    driver.workspace_volume.mode = openshell_driver_openshift::config::workspace_volume::WorkspaceVolumeMode::Ephemeral;
    driver.warm_pool_config = root.join("examples/warm-pool.yaml").display().to_string();
    driver.sandbox_auth = SandboxAuth::TokenFile;
    let args = RenderArgs {
        file: "-".into(),
        v1alpha1: false,
        namespace_annotations: Vec::new(),
        now: Some("2026-03-01T10:00:00Z".parse().expect("time")),
        driver,
    };
    let rendered = render_yaml(&input, &args).expect("renders");
    assert_golden(&rendered, "render-sandbox-warm.yaml");
    let warm = rendered.split("# warm pool: ").nth(1).expect("a warm pool section");
    assert!(warm.starts_with("binds a ready member of profile python"), "{warm}");
    assert!(warm.contains("shutdownTime: 2026-03-01T10:30:00Z"), "its maximum age");
    assert!(
        warm.contains("TASK=<redacted>") && !warm.contains("summarise"),
        "names, not values"
    );
    assert!(!rendered.contains("example-token-value"), "the token never appears");
    let other = input.replace("quay.io/example/python:3", "quay.io/example/python:4");
    let cold = render_yaml(&other, &args).expect("renders");
    assert!(cold.contains("# warm pool: cold (no_profile)"), "{cold}");
}
