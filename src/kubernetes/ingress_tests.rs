//! Tier 1: the gateway-only NetworkPolicy and its flags.

use super::*;
use crate::config::DriverConfig;

fn enabled() -> IngressConfig {
    IngressConfig {
        gateway_ingress_only: true,
        gateway_namespace: "openshell-system".into(),
        gateway_pod_selector: vec![("app.kubernetes.io/name".into(), "openshell-gateway".into())],
    }
}

fn identity() -> SandboxIdentity {
    let mut config = DriverConfig::defaults();
    config.namespace = "team-a".into();
    let sandbox = crate::proto::DriverSandbox {
        id: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b".into(),
        name: "agent".into(),
        workspace: "default".into(),
        ..Default::default()
    };
    crate::kubernetes::identity::identity_of(&sandbox, &config).expect("identity")
}

#[test]
fn the_policy_admits_only_the_gateways_pods_on_its_port() {
    assert_eq!(IngressConfig::default().network_policy(&identity(), "gw"), None);
    let policy = enabled().network_policy(&identity(), "gw").expect("policy");
    assert_eq!(policy.metadata.name.as_deref(), Some("default--agent-gateway-ingress"));
    assert_eq!(policy.metadata.namespace.as_deref(), Some("team-a"));
    let labels = policy.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("openshell.ai/gateway-id").map(String::as_str), Some("gw"));
    let spec = policy.spec.expect("spec");
    let selected = spec.pod_selector.and_then(|s| s.match_labels).unwrap_or_default();
    assert_eq!(
        selected,
        BTreeMap::from([(
            LABEL_SANDBOX_ID.to_string(),
            "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b".to_string()
        )])
    );
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    let rules = spec.ingress.expect("ingress");
    assert_eq!(rules.len(), 1);
    let peers = rules[0].from.clone().expect("from");
    assert_eq!(peers.len(), 1);
    let namespaces = peers[0]
        .namespace_selector
        .clone()
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    assert_eq!(
        namespaces,
        BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            "openshell-system".to_string()
        )])
    );
    let pods = peers[0]
        .pod_selector
        .clone()
        .and_then(|s| s.match_labels)
        .unwrap_or_default();
    assert_eq!(
        pods,
        BTreeMap::from([("app.kubernetes.io/name".to_string(), "openshell-gateway".to_string())])
    );
    let ports = rules[0].ports.clone().expect("ports");
    assert_eq!(
        (ports[0].port.clone(), ports[0].protocol.as_deref()),
        (Some(IntOrString::Int(2222)), Some("TCP"))
    );
}

#[test]
fn bad_flags_are_refused_at_startup_naming_the_flag() {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        config: DriverConfig,
    }
    let parse = |args: &[&str]| {
        let mut all = vec!["driver", "--gateway-endpoint", "http://gw:8080"];
        all.extend_from_slice(args);
        <Only as clap::Parser>::try_parse_from(all)
            .map_err(|e| e.to_string())
            .and_then(|o| crate::kubernetes::settings::check_serve(&o.config))
    };
    for (args, flag) in [
        (&["--gateway-ingress-only"][..], "--gateway-namespace"),
        (
            &["--gateway-ingress-only", "--gateway-pod-selector", "app=gw"][..],
            "--gateway-namespace",
        ),
        (
            &[
                "--gateway-ingress-only",
                "--gateway-namespace",
                "Bad_NS",
                "--gateway-pod-selector",
                "app=gw",
            ][..],
            "--gateway-namespace",
        ),
        (
            &["--gateway-ingress-only", "--gateway-namespace", "gw"][..],
            "--gateway-pod-selector",
        ),
        (&["--gateway-pod-selector", "app"][..], "--gateway-pod-selector"),
        (&["--gateway-pod-selector", "bad key=x"][..], "--gateway-pod-selector"),
        (&["--gateway-namespace", "gw"][..], "--gateway-ingress-only"),
    ] {
        let err = parse(args).expect_err(flag);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    assert_eq!(
        parse(&[
            "--gateway-ingress-only",
            "--gateway-namespace",
            "openshell-system",
            "--gateway-pod-selector",
            "app=gw,tier=gateway"
        ]),
        Ok(())
    );
}

#[test]
fn exposure_is_refused_with_gateway_only_ingress() {
    use crate::openshift::decision::decide;
    use crate::openshift::detect::PlatformFacts;
    let mut config = DriverConfig::defaults();
    config.ingress = enabled();
    let mut sandbox = crate::proto::DriverSandbox {
        id: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b".into(),
        name: "agent".into(),
        ..Default::default()
    };
    sandbox.spec = Some(crate::proto::DriverSandboxSpec {
        template: Some(crate::proto::DriverSandboxTemplate {
            platform_config: crate::proto::json::json_to_struct(&serde_json::json!({"expose": {"port": 8888}})),
            ..Default::default()
        }),
        ..Default::default()
    });
    let facts = PlatformFacts {
        scc_api: true,
        route_api: true,
        ..Default::default()
    };
    let err = decide(&config, &facts, &sandbox).expect_err("refused");
    assert!(err.to_string().contains("--gateway-ingress-only"), "{err}");
}
