//! `render` goldens of the network and isolation settings (issue #12, items 4, 6 and 11):
//! UPDATE_GOLDEN=1 rewrites them after a reviewed change.

#[path = "support/golden.rs"]
mod golden;

use golden::*;
use openshell_driver_openshift::cli::render::render_yaml;

#[test]
fn render_shows_the_corporate_proxy_as_supervisor_arguments_and_a_secret_volume() {
    let driver = parsed(&[
        "--https-proxy",
        "http://proxy.corp.example:3128",
        "--no-proxy",
        ".svc.cluster.local,10.96.0.0/12",
        "--proxy-auth-secret-name",
        "corp-proxy",
        "--proxy-auth-secret-key",
        "credentials",
        "--proxy-auth-allow-insecure",
        "--proxy-connect-by-hostname",
    ]);
    let rendered = render_yaml(&example(), &args(driver)).expect("renders");
    assert_golden(&rendered, "render-sandbox-proxy.yaml");
    for wanted in [
        "- --upstream-proxy\n        - http://proxy.corp.example:3128",
        "- --upstream-proxy-auth-file\n        - /etc/openshell/auth/upstream-proxy",
        "secretName: corp-proxy",
    ] {
        assert!(rendered.contains(wanted), "missing {wanted:?}");
    }
    // A credential without the cleartext acknowledgement is refused, naming the flag.
    let refused = parsed(&[
        "--https-proxy",
        "http://proxy.corp.example:3128",
        "--proxy-auth-secret-name",
        "corp-proxy",
        "--proxy-auth-secret-key",
        "credentials",
    ]);
    let err = render_yaml(&example(), &args(refused)).expect_err("refused");
    assert!(err.to_string().contains("--proxy-auth-allow-insecure"), "{err}");
}

#[test]
fn render_shows_driver_wide_user_namespaces_and_a_sandboxs_own_app_armor_profile() {
    let driver = parsed(&["--enable-user-namespaces", "--app-armor-profile", "unconfined"]);
    // The example, with its own AppArmor choice beside the other platform_config keys.
    let input = example().replace(
        "      runtime_class_name: kata\n",
        "      runtime_class_name: kata\n      app_armor_profile: localhost/openshell-agent\n",
    );
    let rendered = render_yaml(&input, &args(driver)).expect("renders");
    assert_golden(&rendered, "render-sandbox-userns.yaml");
    for wanted in [
        "hostUsers: false",
        "- SETUID",
        "- DAC_READ_SEARCH",
        "localhostProfile: openshell-agent",
    ] {
        assert!(rendered.contains(wanted), "missing {wanted:?}");
    }
}

#[test]
fn render_shows_the_gateway_only_network_policy() {
    let driver = parsed(&[
        "--gateway-ingress-only",
        "--gateway-namespace",
        "openshell-system",
        "--gateway-pod-selector",
        "app.kubernetes.io/name=openshell-gateway",
    ]);
    let rendered = render_yaml(&example(), &args(driver)).expect("renders");
    assert_golden(&rendered, "render-sandbox-ingress.yaml");
    for wanted in [
        "kind: NetworkPolicy",
        "port: 2222",
        "kubernetes.io/metadata.name: openshell-system",
    ] {
        assert!(rendered.contains(wanted), "missing {wanted:?}");
    }
}
