//! Tier 1: what OpenShift adds to a rendered Sandbox, table by table.

use std::collections::BTreeMap;

use serde_json::json;

use crate::config::DriverConfig;
use crate::kubernetes::identity::{LABEL_SANDBOX_ID, identity_of};
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion, SandboxManifest, render_sandbox};
use crate::openshift::companions::*;
use crate::openshift::detect::PlatformFacts;
use crate::openshift::enrich_offline;
use crate::openshift::expose::EXPOSE_KEY;
use crate::openshift::namespace::{MCS_ANNOTATION, SUPPLEMENTAL_GROUPS_ANNOTATION, UID_RANGE_ANNOTATION};
use crate::openshift::pod::*;
use crate::proto::json::json_to_struct;
use crate::proto::{DriverSandbox, DriverSandboxSpec, DriverSandboxTemplate};

fn request(expose: Option<serde_json::Value>) -> DriverSandbox {
    DriverSandbox {
        id: "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01".into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/sh".into()],
            template: Some(DriverSandboxTemplate {
                image: "quay.io/example/agent:1".into(),
                platform_config: expose.map(|e| json_to_struct(&json!({ EXPOSE_KEY: e })).expect("object")),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn rendered(req: &DriverSandbox, config: &DriverConfig) -> RenderedSandbox {
    render_sandbox(req, config, SandboxApiVersion::V1beta1, &[EXPOSE_KEY]).expect("renders")
}

/// An exposed request enriched for a namespace without annotations.
fn exposed(req: &DriverSandbox, config: &DriverConfig) -> (SandboxManifest, Companions) {
    let mut sandbox = rendered(req, config);
    let made = enrich_offline(req, config, &mut sandbox, &BTreeMap::new(), &PlatformFacts::default())
        .expect("valid")
        .expect("exposed");
    (sandbox.manifest, made)
}

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn env(manifest: &SandboxManifest, name: &str) -> Option<String> {
    manifest.spec.pod_template.spec.containers[0]
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

fn selinux(manifest: &SandboxManifest) -> Option<(Option<String>, Option<String>)> {
    let agent = &manifest.spec.pod_template.spec.containers[0];
    let options = agent.security_context.as_ref()?.se_linux_options.as_ref()?;
    Some((options.type_.clone(), options.level.clone()))
}

#[test]
fn security_context_by_namespace_and_flags() {
    let openshift_ns = annotations(&[
        (UID_RANGE_ANNOTATION, "1000680000/10000"),
        (SUPPLEMENTAL_GROUPS_ANNOTATION, "1000680000/10000"),
        (MCS_ANNOTATION, "s0:c26,c5"),
    ]);
    let base = DriverConfig::defaults();
    let mut typed = base.clone();
    typed.openshift.selinux_type = "openshell_agent_t".into();
    let mut pinned = typed.clone();
    pinned.sandbox_uid = Some(4242);
    pinned.sandbox_gid = Some(4343);
    let mut detected = base.clone();
    detected.openshift.selinux_detect_label = "openshell.ai/selinux-type".into();
    let labelled = PlatformFacts {
        selinux_labels: vec!["openshell_agent_t".into()],
        ..Default::default()
    };
    let none = PlatformFacts::default();
    type Want = (
        Option<&'static str>,
        Option<&'static str>,
        Option<(&'static str, Option<&'static str>)>,
    );
    type Case<'a> = (
        &'a str,
        &'a DriverConfig,
        BTreeMap<String, String>,
        &'a PlatformFacts,
        Want,
    );
    let cases: [Case; 5] = [
        // Without the namespace's allocation the driver's default (1000) stays.
        (
            "bare namespace",
            &base,
            BTreeMap::new(),
            &none,
            (Some("1000"), Some("1000"), None),
        ),
        (
            "namespace allocations, no type",
            &base,
            openshift_ns.clone(),
            &none,
            (Some("1000680000"), Some("1000680000"), None),
        ),
        (
            "type from the flag, level from the namespace",
            &typed,
            openshift_ns.clone(),
            &none,
            (
                Some("1000680000"),
                Some("1000680000"),
                Some(("openshell_agent_t", Some("s0:c26,c5"))),
            ),
        ),
        (
            "flags win over the namespace",
            &pinned,
            openshift_ns.clone(),
            &none,
            (
                Some("4242"),
                Some("4343"),
                Some(("openshell_agent_t", Some("s0:c26,c5"))),
            ),
        ),
        (
            "type detected on nodes, no level",
            &detected,
            BTreeMap::new(),
            &labelled,
            (Some("1000"), Some("1000"), Some(("openshell_agent_t", None))),
        ),
    ];
    for (what, config, ns, facts, (uid, gid, context)) in cases {
        let req = request(None);
        let mut sandbox = rendered(&req, config);
        let made = enrich_offline(&req, config, &mut sandbox, &ns, facts).expect(what);
        let manifest = sandbox.manifest;
        assert!(made.is_none(), "{what}: nothing exposed");
        let template = &manifest.spec.pod_template;
        assert_eq!(
            template.metadata.annotations[REQUIRED_SCC_ANNOTATION], "openshell-sandbox",
            "{what}"
        );
        assert_eq!(env(&manifest, "OPENSHELL_SANDBOX_UID").as_deref(), uid, "{what}");
        assert_eq!(env(&manifest, "OPENSHELL_SANDBOX_GID").as_deref(), gid, "{what}");
        let want = context.map(|(t, l)| (Some(t.to_string()), l.map(str::to_string)));
        assert_eq!(selinux(&manifest), want, "{what}");
        let node_selector = template.spec.node_selector.clone().unwrap_or_default();
        assert_eq!(
            node_selector.contains_key("openshell.ai/selinux-type"),
            facts == &labelled,
            "{what}: detected types pin the pod to nodes that have them"
        );
    }
}

#[test]
fn the_selinux_type_reaches_every_container_that_runs_the_supervisor() {
    use crate::config::topology::Topology;
    use crate::kubernetes::topology::{NETWORK_CONTAINER, NETWORK_INIT_CONTAINER};
    let mut config = DriverConfig::defaults();
    config.openshift.selinux_type = "openshell_agent_t".into();
    config.topology.topology = Topology::Sidecar;
    let req = request(None);
    let mut sandbox = rendered(&req, &config);
    enrich_offline(&req, &config, &mut sandbox, &BTreeMap::new(), &PlatformFacts::default()).expect("valid");
    let spec = &sandbox.manifest.spec.pod_template.spec;
    let type_of = |c: &k8s_openapi::api::core::v1::Container| {
        c.security_context
            .as_ref()
            .and_then(|s| s.se_linux_options.as_ref())
            .and_then(|o| o.type_.clone())
    };
    let all: Vec<_> = spec.init_containers.iter().flatten().chain(&spec.containers).collect();
    for name in [AGENT_CONTAINER, NETWORK_INIT_CONTAINER, NETWORK_CONTAINER] {
        let container = all
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{name} rendered"));
        assert_eq!(type_of(container).as_deref(), Some("openshell_agent_t"), "{name}");
    }
    // Containers that do not run the supervisor keep the pod's own context.
    for container in all
        .iter()
        .filter(|c| ![AGENT_CONTAINER, NETWORK_INIT_CONTAINER, NETWORK_CONTAINER].contains(&c.name.as_str()))
    {
        assert_eq!(type_of(container), None, "{}", container.name);
    }
}

#[test]
fn vanilla_rendering_has_none_of_it() {
    let config = DriverConfig::defaults();
    let manifest = rendered(&request(None), &config).manifest;
    let yaml = serde_yaml::to_string(&manifest).expect("yaml");
    for absent in [
        REQUIRED_SCC_ANNOTATION,
        "1000680000",
        "seLinuxOptions",
        OAUTH_PROXY_CONTAINER,
    ] {
        assert!(!yaml.contains(absent), "{absent} in a plain Kubernetes Sandbox");
    }
}

#[test]
fn malformed_namespace_annotations_fail_the_enrichment() {
    let config = DriverConfig::defaults();
    let req = request(None);
    let mut sandbox = rendered(&req, &config);
    let ns = annotations(&[(UID_RANGE_ANNOTATION, "1000680000")]);
    let err = enrich_offline(&req, &config, &mut sandbox, &ns, &PlatformFacts::default()).expect_err("malformed");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.to_string().contains(UID_RANGE_ANNOTATION), "{err}");
}

#[test]
fn exposure_renders_port_service_and_route() {
    let config = DriverConfig::defaults();
    let cases = [
        (json!({"port": 8080}), "edge", "sandbox", 8080, None),
        (
            json!({"port": 8080, "tls": "passthrough", "host": "dev.apps.example.com"}),
            "passthrough",
            "sandbox",
            8080,
            Some("dev.apps.example.com"),
        ),
        (
            json!({"port": 3000, "auth": "openshift"}),
            "reencrypt",
            OAUTH_PROXY_CONTAINER,
            8443,
            None,
        ),
    ];
    for (expose, termination, port_name, service_port, host) in cases {
        let req = request(Some(expose.clone()));
        let (manifest, made) = exposed(&req, &config);
        let agent = &manifest.spec.pod_template.spec.containers[0];
        let agent_port = &agent.ports.as_ref().expect("agent port")[0];
        assert_eq!(agent_port.name.as_deref(), Some(SANDBOX_PORT_NAME), "{expose}");

        let service = made.service.spec.as_ref().expect("spec");
        let port = &service.ports.as_ref().expect("ports")[0];
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some(port_name), service_port),
            "{expose}"
        );
        assert_eq!(
            service.selector.as_ref().expect("selector")[LABEL_SANDBOX_ID],
            req.id,
            "{expose}: the Service selects this sandbox's pod"
        );
        assert_eq!(made.route["spec"]["tls"]["termination"], termination, "{expose}");
        assert_eq!(
            made.route["spec"]["to"]["name"],
            made.service.metadata.name.clone().expect("name").as_str()
        );
        assert_eq!(made.route["spec"]["port"]["targetPort"], port_name, "{expose}");
        assert_eq!(made.route["spec"]["host"].as_str(), host, "{expose}");
        assert_eq!(made.route["metadata"]["labels"][LABEL_SANDBOX_ID], req.id.as_str());
    }
}

#[test]
fn oauth_proxy_sidecar_fronts_the_port_with_its_own_credentials() {
    let config = DriverConfig::defaults();
    let req = request(Some(json!({"port": 3000, "auth": "openshift"})));
    let (manifest, made) = exposed(&req, &config);
    let identity = identity_of(&req, &config).expect("identity");
    let names = expose_names(&identity.object_name);
    let spec = &manifest.spec.pod_template.spec;
    let proxy = spec
        .containers
        .iter()
        .find(|c| c.name == OAUTH_PROXY_CONTAINER)
        .expect("sidecar");
    let args = proxy.args.clone().unwrap_or_default();
    for wanted in [
        "--provider=openshift",
        "--upstream=http://localhost:3000",
        "--openshift-service-account=default",
        "--https-address=:8443",
    ] {
        assert!(args.iter().any(|a| a == wanted), "missing {wanted} in {args:?}");
    }
    assert_eq!(
        proxy.image.as_deref(),
        Some(config.openshift.oauth_proxy_image.as_str())
    );
    // The agent gets no Kubernetes token; the proxy gets a projected one of its own.
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(
        spec.service_account_name.as_deref(),
        Some("default"),
        "projected tokens name it"
    );
    let agent_mounts: Vec<_> = spec.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.clone())
        .collect();
    assert!(
        !agent_mounts.iter().any(|m| m.starts_with("oauth-proxy")),
        "{agent_mounts:?}"
    );
    let volumes = spec.volumes.clone().unwrap_or_default();
    let secret_of = |name: &str| {
        volumes
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.secret.as_ref())
            .and_then(|s| s.secret_name.clone())
    };
    assert_eq!(secret_of("oauth-proxy-cookie"), Some(names.cookie_secret.clone()));
    assert_eq!(secret_of("oauth-proxy-tls"), Some(names.tls_secret.clone()));
    assert!(volumes.iter().any(|v| v.projected.is_some()), "projected SA token");

    let service_annotations = made.service.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(service_annotations[SERVING_CERT_ANNOTATION], names.tls_secret);
    let cookie = made.cookie_secret.expect("cookie secret");
    assert_eq!(cookie.metadata.name.as_deref(), Some(names.cookie_secret.as_str()));
    let (key, value) = made.redirect_annotation.expect("redirect");
    assert!(key.starts_with(OAUTH_REDIRECT_PREFIX), "{key}");
    let reference: serde_json::Value = serde_json::from_str(&value).expect("json");
    assert_eq!(reference["reference"]["name"], names.route.as_str());
    assert_eq!(
        made.route["metadata"]["annotations"][OAUTH_CLIENT_ANNOTATION],
        "default"
    );
}

#[test]
fn names_fit_kubernetes_limits() {
    for object in [
        "default--dev",
        "0abc--x",
        &format!("{}--{}", "a".repeat(19), "b".repeat(19)),
    ] {
        let names = expose_names(object);
        assert!(crate::grammar::is_dns_label(&names.service), "{}", names.service);
        assert!(
            names.service.starts_with(|c: char| c.is_ascii_lowercase()),
            "{}",
            names.service
        );
        let (_, key_name) = names.redirect_annotation.split_once('/').expect("prefixed");
        assert!(key_name.len() <= 63, "{key_name}");
    }
    let long = expose_names(&format!("{}--{}", "a".repeat(19), "b".repeat(19)));
    let other = expose_names(&format!("{}--{}", "a".repeat(19), "c".repeat(19)));
    assert_ne!(
        long.redirect_annotation, other.redirect_annotation,
        "shortened keys stay unique"
    );
}

#[test]
fn the_workspace_is_seeded_as_the_namespaces_uid_and_gid() {
    let req = request(None);
    let seed_command = |sandbox: &RenderedSandbox| {
        sandbox
            .manifest
            .spec
            .pod_template
            .spec
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == crate::kubernetes::workspace_volume::WORKSPACE_INIT_CONTAINER)
            .and_then(|c| c.command.clone())
            .expect("the seed")
    };
    let ns = annotations(&[
        (UID_RANGE_ANNOTATION, "1000680000/10000"),
        (SUPPLEMENTAL_GROUPS_ANNOTATION, "1000680000/10000"),
        (MCS_ANNOTATION, "s0:c26,c5"),
    ]);
    let config = DriverConfig::defaults();
    let mut sandbox = rendered(&req, &config);
    enrich_offline(&req, &config, &mut sandbox, &ns, &PlatformFacts::default()).expect("valid");
    let command = seed_command(&sandbox);
    assert_eq!(
        command[command.len() - 2..],
        ["--owner", "1000680000:1000680000"],
        "{command:?}"
    );
    // Plain Kubernetes: the image's owners.
    let plain = rendered(&req, &config);
    assert!(!seed_command(&plain).contains(&"--owner".to_string()));
}
