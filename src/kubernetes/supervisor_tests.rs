//! Tier 1: the supervisor contract, row by row (docs/supervisor-contract.md). Each test
//! renders a request and reads the agent container the way the supervisor would see it.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, PodSpec, Volume};

use crate::config::{AppArmor, DriverConfig, SandboxAuth};
use crate::kubernetes::render::*;
use crate::kubernetes::sideload::SupervisorSideload;
use crate::kubernetes::supervisor::*;
use crate::proto::json::json_to_struct;
use crate::proto::*;

const ID: &str = "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b";
const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.payload.sig";

fn request() -> DriverSandbox {
    DriverSandbox {
        id: ID.into(),
        name: "agent".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["sleep".into(), "infinity".into()],
            tty: false,
            environment: HashMap::from([("FOO".into(), "from-spec".into()), ("BOTH".into(), "spec".into())]),
            sandbox_token: TOKEN.into(),
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                environment: HashMap::from([
                    ("BAR".into(), "from-template".into()),
                    ("BOTH".into(), "template".into()),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn config(f: impl FnOnce(&mut DriverConfig)) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.gateway_endpoint = "http://10.88.0.1:8080".into();
    f(&mut c);
    c
}

fn render_with(req: &DriverSandbox, c: &DriverConfig) -> RenderedSandbox {
    render_sandbox(req, c, SandboxApiVersion::V1beta1, &[]).expect("renders")
}

fn pod(r: &RenderedSandbox) -> &PodSpec {
    &r.manifest.spec.pod_template.spec
}

fn agent(r: &RenderedSandbox) -> &Container {
    &pod(r).containers[0]
}

fn env(r: &RenderedSandbox) -> BTreeMap<String, String> {
    agent(r)
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn volume<'a>(r: &'a RenderedSandbox, name: &str) -> Option<&'a Volume> {
    pod(r).volumes.iter().flatten().find(|v| v.name == name)
}

/// (mount path, read-only) of the agent's mount of `volume`.
fn mounted(r: &RenderedSandbox, volume: &str) -> Option<(String, bool)> {
    agent(r)
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .map(|m| (m.mount_path.clone(), m.read_only == Some(true)))
}

#[test]
fn every_variable_the_driver_renders_with_its_value() {
    let tls = config(|c| c.client_tls_secret = "gw-client".into());
    let token_file = config(|c| c.sandbox_auth = SandboxAuth::TokenFile);
    let pinned = config(|c| {
        c.sandbox_uid = Some(2000);
        c.sandbox_gid = Some(3000);
    });
    let plain = config(|_| {});
    let user_env = r#"{"BAR":"from-template","BOTH":"spec","FOO":"from-spec"}"#;
    // (what, config, variable, expected value; None = not rendered)
    let cases: Vec<(&str, &DriverConfig, &str, Option<&str>)> = vec![
        ("id", &plain, var::SANDBOX_ID, Some(ID)),
        ("name", &plain, var::SANDBOX, Some("agent")),
        ("endpoint", &plain, var::ENDPOINT, Some("http://10.88.0.1:8080")),
        (
            "main process",
            &plain,
            var::MAIN_PROCESS_SPEC,
            Some(r#"{"command":["sleep","infinity"],"tty":false,"version":1}"#),
        ),
        ("log level: supervisor default", &plain, var::LOG_LEVEL, Some("warn")),
        (
            "ssh socket",
            &plain,
            var::SSH_SOCKET_PATH,
            Some("/run/openshell/ssh.sock"),
        ),
        ("user env: spec wins", &plain, var::USER_ENVIRONMENT, Some(user_env)),
        ("uid default", &plain, var::SANDBOX_UID, Some("1000")),
        ("gid default", &plain, var::SANDBOX_GID, Some("1000")),
        ("uid pinned", &pinned, var::SANDBOX_UID, Some("2000")),
        ("gid pinned", &pinned, var::SANDBOX_GID, Some("3000")),
        ("image user ignored", &plain, var::OCI_IMAGE_USER, Some("")),
        (
            "no runtime capabilities",
            &plain,
            var::NETWORK_RUNTIME_CAPABILITIES,
            Some(""),
        ),
        (
            "sa token",
            &plain,
            var::K8S_SA_TOKEN_FILE,
            Some("/var/run/secrets/openshell/token"),
        ),
        ("sa mode: no token file", &plain, var::SANDBOX_TOKEN_FILE, None),
        (
            "token file",
            &token_file,
            var::SANDBOX_TOKEN_FILE,
            Some("/var/run/secrets/openshell/token"),
        ),
        ("token mode: no sa token", &token_file, var::K8S_SA_TOKEN_FILE, None),
        ("plain http: no CA", &plain, var::TLS_CA, None),
        ("tls CA", &tls, var::TLS_CA, Some("/etc/openshell-tls/client/ca.crt")),
        (
            "tls cert",
            &tls,
            var::TLS_CERT,
            Some("/etc/openshell-tls/client/tls.crt"),
        ),
        ("tls key", &tls, var::TLS_KEY, Some("/etc/openshell-tls/client/tls.key")),
        ("user var in the container", &plain, "FOO", Some("from-spec")),
        ("template var in the container", &plain, "BAR", Some("from-template")),
    ];
    for (what, c, name, want) in cases {
        let got = env(&render_with(&request(), c));
        assert_eq!(got.get(name).map(String::as_str), want, "{what}: {name}");
    }
}

#[test]
fn log_level_comes_from_the_request_when_it_has_one() {
    let mut req = request();
    req.spec.as_mut().expect("spec").log_level = "debug".into();
    let got = env(&render_with(&req, &config(|_| {})));
    assert_eq!(got[var::LOG_LEVEL], "debug");
}

#[test]
fn user_environment_is_a_json_map_without_driver_keys() {
    let r = render_with(&request(), &config(|_| {}));
    let got = env(&r);
    assert_eq!(got[var::SANDBOX_ID], ID);
    let user: BTreeMap<String, String> = serde_json::from_str(&got[var::USER_ENVIRONMENT]).expect("json map");
    assert_eq!(user.get("FOO").map(String::as_str), Some("from-spec"));
    let empty = {
        let mut req = request();
        let spec = req.spec.as_mut().expect("spec");
        spec.environment.clear();
        spec.template.as_mut().expect("template").environment.clear();
        env(&render_with(&req, &config(|_| {})))
    };
    assert_eq!(
        empty[var::USER_ENVIRONMENT],
        "{}",
        "always rendered, so an image cannot add user env"
    );
}

#[test]
fn the_supervisor_command_delivery_and_workdir() {
    let copied = config(|c| c.supervisor_sideload = SupervisorSideload::InitContainer);
    let r = render_with(&request(), &copied);
    let init = &pod(&r).init_containers.as_ref().expect("init")[0];
    assert_eq!(
        init.command.clone().expect("command"),
        [
            "/openshell-sandbox",
            "copy-self",
            "/opt/openshell/bin/openshell-sandbox"
        ],
        "the stock supervisor image keeps the binary at /openshell-sandbox"
    );
    let moved = render_with(
        &request(),
        &config(|c| {
            c.supervisor_sideload = SupervisorSideload::InitContainer;
            c.supervisor_binary_path = "/bin/sup".into();
        }),
    );
    assert_eq!(
        pod(&moved).init_containers.as_ref().expect("init")[0]
            .command
            .as_ref()
            .expect("command")[0],
        "/bin/sup"
    );
    let launcher = &pod(&r).init_containers.as_ref().expect("init")[1];
    assert_eq!(
        launcher.command.clone().expect("command"),
        [
            "/openshell-launcher",
            "copy-self",
            "/opt/openshell/bin/openshell-launcher"
        ]
    );
    assert_eq!(launcher.image, Some(DriverConfig::defaults().launcher_image));
    let command = agent(&r).command.clone().expect("command");
    assert_eq!(command[..2], ["/opt/openshell/bin/openshell-launcher", "--keep"]);
    assert_eq!(
        command[3..],
        ["--", "/opt/openshell/bin/openshell-sandbox", "--workdir", "/sandbox"]
    );
    assert!(
        agent(&r).args.is_none(),
        "container args would replace the main process spec"
    );

    // From the images themselves: the same command, other paths, no init container.
    let mounted_images = render_with(&request(), &config(|_| {}));
    let inits: Vec<_> = pod(&mounted_images)
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(inits, [crate::kubernetes::workspace_volume::WORKSPACE_INIT_CONTAINER]);
    let command = agent(&mounted_images).command.clone().expect("command");
    assert_eq!(
        command[..2],
        ["/opt/openshell/bin/launcher/openshell-launcher", "--keep"]
    );
    assert_eq!(
        command[3..],
        [
            "--",
            "/opt/openshell/bin/supervisor/openshell-sandbox",
            "--workdir",
            "/sandbox"
        ]
    );
}

#[test]
fn the_launcher_keeps_exactly_the_rendered_supervisor_settings() {
    for c in [
        config(|_| {}),
        config(|c| c.client_tls_secret = "gw-client".into()),
        config(|c| c.sandbox_auth = SandboxAuth::TokenFile),
    ] {
        let r = render_with(&request(), &c);
        let command = agent(&r).command.clone().expect("command");
        let keep: Vec<&str> = command[2].split(',').collect();
        let rendered: Vec<String> = env(&r).into_keys().filter(|k| k.starts_with("OPENSHELL_")).collect();
        assert_eq!(keep, rendered, "every rendered OPENSHELL_ variable and no other");
        assert!(!keep.contains(&"OPENSHELL_POLICY_RULES") && !keep.contains(&"OPENSHELL_POLICY_DATA"));
    }
}

#[test]
fn mounts_and_their_volumes() {
    let tls = config(|c| c.client_tls_secret = "gw-client".into());
    let token_file = config(|c| c.sandbox_auth = SandboxAuth::TokenFile);
    let sa = config(|c| c.sandbox_token_ttl = std::time::Duration::from_secs(7200));
    let rendered = render_with(&request(), &tls);
    assert_eq!(
        mounted(&rendered, SUPERVISOR_VOLUME),
        Some(("/opt/openshell/bin/supervisor".into(), true))
    );
    assert_eq!(
        mounted(&rendered, RUNTIME_VOLUME),
        Some(("/run/openshell".into(), false))
    );
    assert!(
        volume(&rendered, RUNTIME_VOLUME)
            .and_then(|v| v.empty_dir.as_ref())
            .is_some()
    );
    assert_eq!(
        mounted(&rendered, TLS_VOLUME),
        Some(("/etc/openshell-tls/client".into(), true))
    );
    let tls_secret = volume(&rendered, TLS_VOLUME)
        .and_then(|v| v.secret.clone())
        .expect("secret");
    assert_eq!(tls_secret.secret_name.as_deref(), Some("gw-client"));
    assert_eq!(tls_secret.default_mode, Some(0o400));
    assert!(volume(&render_with(&request(), &sa), TLS_VOLUME).is_none());

    let sa_render = render_with(&request(), &sa);
    assert_eq!(
        mounted(&sa_render, IDENTITY_VOLUME),
        Some(("/var/run/secrets/openshell".into(), true))
    );
    let projected = volume(&sa_render, IDENTITY_VOLUME)
        .and_then(|v| v.projected.clone())
        .expect("projected");
    assert_eq!(projected.default_mode, Some(0o400));
    let token = projected.sources.expect("sources")[0]
        .service_account_token
        .clone()
        .expect("token");
    assert_eq!(token.audience.as_deref(), Some("openshell-gateway"));
    assert_eq!(token.expiration_seconds, Some(7200));
    assert_eq!(token.path, "token");
    assert!(
        sa_render.token_secret.is_none(),
        "service-account mode stores no gateway token"
    );
    assert!(
        !serde_json::to_string(&sa_render.manifest)
            .expect("json")
            .contains(TOKEN)
    );

    let file_render = render_with(&request(), &token_file);
    let secret = volume(&file_render, IDENTITY_VOLUME)
        .and_then(|v| v.secret.clone())
        .expect("secret");
    assert_eq!(secret.secret_name, Some(file_render.identity.token_secret_name()));
    assert_eq!(secret.default_mode, Some(0o400));
}

#[test]
fn pod_identity_annotation_for_the_gateways_service_account_check() {
    let r = render_with(&request(), &config(|_| {}));
    let annotations = &r.manifest.spec.pod_template.metadata.annotations;
    assert_eq!(annotations.get(SANDBOX_ID_ANNOTATION).map(String::as_str), Some(ID));
    let labels = r.manifest.metadata.labels.clone().expect("labels");
    assert_eq!(
        labels.get("openshell.ai/sandbox-id").map(String::as_str),
        Some(ID),
        "the gateway compares the annotation with the Sandbox's label"
    );
}

#[test]
fn capabilities_security_context_and_app_armor() {
    let with_platform = |host_users: bool| {
        let mut req = request();
        req.spec
            .as_mut()
            .expect("spec")
            .template
            .as_mut()
            .expect("t")
            .platform_config = json_to_struct(&serde_json::json!({"host_users": host_users}));
        req
    };
    let c = config(|_| {});
    type Case = (
        &'static str,
        DriverSandbox,
        AppArmor,
        Vec<&'static str>,
        Option<(&'static str, Option<&'static str>)>,
    );
    let cases: Vec<Case> = vec![
        (
            "host users",
            with_platform(true),
            AppArmor::Unset,
            AGENT_CAPABILITIES.to_vec(),
            None,
        ),
        (
            "user namespace",
            with_platform(false),
            AppArmor::Unset,
            vec![
                "SYS_ADMIN",
                "NET_ADMIN",
                "SYS_PTRACE",
                "SYSLOG",
                "SETUID",
                "SETGID",
                "DAC_READ_SEARCH",
            ],
            None,
        ),
        (
            "unconfined",
            request(),
            AppArmor::Unconfined,
            AGENT_CAPABILITIES.to_vec(),
            Some(("Unconfined", None)),
        ),
        (
            "runtime default",
            request(),
            AppArmor::RuntimeDefault,
            AGENT_CAPABILITIES.to_vec(),
            Some(("RuntimeDefault", None)),
        ),
        (
            "localhost",
            request(),
            AppArmor::Localhost("openshell".into()),
            AGENT_CAPABILITIES.to_vec(),
            Some(("Localhost", Some("openshell"))),
        ),
    ];
    for (what, req, profile, caps, armor) in cases {
        let mut c = c.clone();
        c.app_armor_profile = profile;
        let r = render_with(&req, &c);
        let sc = agent(&r).security_context.clone().expect("security context");
        assert_eq!(sc.run_as_user, Some(0), "{what}");
        assert_eq!(sc.privileged, Some(false), "{what}");
        assert_eq!(sc.capabilities.and_then(|c| c.add).expect("caps"), caps, "{what}");
        let got = sc.app_armor_profile.map(|p| (p.type_, p.localhost_profile));
        let want = armor.map(|(t, l)| (t.to_string(), l.map(str::to_string)));
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn configurations_that_cannot_work_are_refused_with_the_flag_named() {
    type Case = (&'static str, DriverConfig, tonic::Code, &'static str);
    let cases: Vec<Case> = vec![
        (
            "no endpoint",
            config(|c| c.gateway_endpoint.clear()),
            tonic::Code::FailedPrecondition,
            "--gateway-endpoint",
        ),
        (
            "https without trust",
            config(|c| c.gateway_endpoint = "https://gw:8443".into()),
            tonic::Code::FailedPrecondition,
            "--client-tls-secret",
        ),
    ];
    for (what, c, code, flag) in cases {
        let e = render_sandbox(&request(), &c, SandboxApiVersion::V1beta1, &[]).expect_err(what);
        assert_eq!(e.code(), code, "{what}");
        assert!(e.to_string().contains(flag), "{what}: {e}");
    }
    let https = config(|c| {
        c.gateway_endpoint = "https://gw:8443".into();
        c.client_tls_secret = "gw-client".into();
    });
    assert!(render_sandbox(&request(), &https, SandboxApiVersion::V1beta1, &[]).is_ok());
}

#[test]
fn token_file_mode_needs_the_gateways_token_at_create() {
    let token_file = config(|c| c.sandbox_auth = SandboxAuth::TokenFile);
    let mut no_token = request();
    no_token.spec.as_mut().expect("spec").sandbox_token.clear();
    let spec = no_token.spec.clone().expect("spec");
    let e = require_token_source(&spec, &token_file).expect_err("refused");
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.to_string().contains("gateway_jwt"), "{e}");
    assert!(require_token_source(&request().spec.expect("spec"), &token_file).is_ok());
    assert!(
        require_token_source(&spec, &config(|_| {})).is_ok(),
        "service-account needs no token"
    );
}

#[test]
fn serve_refuses_to_start_without_a_usable_endpoint() {
    let mut c = DriverConfig::defaults();
    assert!(
        crate::kubernetes::settings::check_serve(&c).is_ok(),
        "the placeholder is a URL"
    );
    for (endpoint, ok) in [
        ("", false),
        ("   ", false),
        ("gateway:8080", false),
        ("http://gw:8080", true),
        ("https://gw", true),
    ] {
        c.gateway_endpoint = endpoint.into();
        let got = crate::kubernetes::settings::check_serve(&c);
        assert_eq!(got.is_ok(), ok, "{endpoint:?}: {got:?}");
        if let Err(e) = got {
            assert!(e.contains("--gateway-endpoint"), "{e}");
        }
    }
}
