//! Tier 1: the corporate proxy's flags, as the supervisor takes them.

use super::*;

fn proxy(f: impl FnOnce(&mut ProxyConfig)) -> ProxyConfig {
    let mut p = ProxyConfig {
        https_proxy: "http://proxy.corp.example:3128".into(),
        ..Default::default()
    };
    f(&mut p);
    p
}

#[test]
fn proxy_urls_follow_the_supervisors_grammar() {
    for ok in [
        "http://proxy.corp.example:3128",
        "http://10.0.0.1:8080/",
        "http://[fd00::1]:8080",
        "",
    ] {
        assert_eq!(parse_proxy_url(ok).as_deref(), Ok(ok), "{ok}");
    }
    for (bad, why) in [
        ("https://proxy:3128", "http://"),
        ("socks5://proxy:1080", "http://"),
        ("proxy:3128", "http://"),
        ("http://proxy", "no port"),
        ("http://proxy:", "no valid port"),
        ("http://proxy:0", "no valid port"),
        ("http://proxy:99999", "no valid port"),
        ("http://user:pw@proxy:3128", "credentials"),
        ("http://proxy:3128/path", "path"),
        ("http://proxy:3128?q", "path"),
        ("http://:3128", "host"),
        ("http://[zz::1]:3128", "host"),
        ("http://pro xy:3128", "host"),
    ] {
        let err = parse_proxy_url(bad).expect_err(bad);
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn incoherent_combinations_are_refused_naming_the_flag() {
    let none = ProxyConfig::default();
    for (config, flag) in [
        (
            ProxyConfig {
                no_proxy: ".svc".into(),
                ..none.clone()
            },
            "--no-proxy",
        ),
        (
            ProxyConfig {
                proxy_connect_by_hostname: true,
                ..none.clone()
            },
            "--proxy-connect-by-hostname",
        ),
        (
            ProxyConfig {
                proxy_auth_secret_name: "s".into(),
                proxy_auth_secret_key: "k".into(),
                proxy_auth_allow_insecure: true,
                ..none.clone()
            },
            "--proxy-auth-secret-name",
        ),
        (
            proxy(|p| p.proxy_auth_allow_insecure = true),
            "--proxy-auth-allow-insecure",
        ),
        (
            proxy(|p| p.proxy_auth_secret_name = "s".into()),
            "--proxy-auth-secret-key",
        ),
        (
            proxy(|p| p.proxy_auth_secret_key = "k".into()),
            "--proxy-auth-secret-name",
        ),
        (
            proxy(|p| {
                p.proxy_auth_secret_name = "s".into();
                p.proxy_auth_secret_key = "k".into();
            }),
            "--proxy-auth-allow-insecure",
        ),
        (
            proxy(|p| {
                p.proxy_auth_secret_name = "Not_A_Name".into();
                p.proxy_auth_secret_key = "k".into();
                p.proxy_auth_allow_insecure = true;
            }),
            "--proxy-auth-secret-name",
        ),
        (
            proxy(|p| {
                p.proxy_auth_secret_name = "s".into();
                p.proxy_auth_secret_key = "..".into();
                p.proxy_auth_allow_insecure = true;
            }),
            "--proxy-auth-secret-key",
        ),
        (
            proxy(|p| {
                p.proxy_auth_secret_name = "s".into();
                p.proxy_auth_secret_key = "a/b".into();
                p.proxy_auth_allow_insecure = true;
            }),
            "--proxy-auth-secret-key",
        ),
    ] {
        let err = config.validate().expect_err(flag);
        assert!(err.contains(flag), "{flag}: {err}");
    }
    assert_eq!(none.validate(), Ok(()));
    assert_eq!(proxy(|p| p.no_proxy = ".svc,10.0.0.0/8".into()).validate(), Ok(()));
}

#[test]
fn the_supervisor_gets_arguments_and_a_root_only_file_never_the_credential() {
    assert!(ProxyConfig::default().supervisor_args().is_empty());
    assert_eq!(ProxyConfig::default().volume(), None);
    let full = proxy(|p| {
        p.no_proxy = " .svc.cluster.local,10.96.0.0/12 ".into();
        p.proxy_auth_secret_name = "corp-proxy".into();
        p.proxy_auth_secret_key = "credentials".into();
        p.proxy_auth_allow_insecure = true;
        p.proxy_connect_by_hostname = true;
    });
    assert_eq!(full.validate(), Ok(()));
    assert_eq!(
        full.supervisor_args(),
        [
            "--upstream-proxy",
            "http://proxy.corp.example:3128",
            "--upstream-no-proxy",
            ".svc.cluster.local,10.96.0.0/12",
            "--upstream-proxy-auth-file",
            "/etc/openshell/auth/upstream-proxy",
            "--upstream-proxy-auth-allow-insecure",
            "--upstream-proxy-connect-by-hostname",
        ]
    );
    let volume = full.volume().expect("volume");
    let secret = volume.secret.expect("secret volume");
    assert_eq!(secret.secret_name.as_deref(), Some("corp-proxy"));
    assert_eq!(secret.default_mode, Some(0o400));
    let items = secret.items.expect("one item");
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("credentials", "upstream-proxy")
    );
    let mount = full.mount().expect("mount");
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        ("/etc/openshell/auth", Some(true))
    );
    // Without a credential: the proxy alone, no file, no volume.
    let plain = proxy(|_| {});
    assert_eq!(
        plain.supervisor_args(),
        ["--upstream-proxy", "http://proxy.corp.example:3128"]
    );
    assert_eq!((plain.volume(), plain.mount()), (None, None));
}

#[test]
fn bad_flags_are_refused_at_startup_naming_the_flag() {
    #[derive(clap::Parser)]
    struct Only {
        #[command(flatten)]
        config: crate::config::DriverConfig,
    }
    let parse = |args: &[&str]| {
        let mut all = vec!["driver", "--gateway-endpoint", "http://gw:8080"];
        all.extend_from_slice(args);
        <Only as clap::Parser>::try_parse_from(all)
            .map_err(|e| e.to_string())
            .and_then(|o| crate::kubernetes::settings::check_serve(&o.config))
    };
    for (args, flag) in [
        (&["--https-proxy", "https://proxy:3128"][..], "--https-proxy"),
        (&["--no-proxy", ".svc"][..], "--no-proxy"),
        (
            &[
                "--https-proxy",
                "http://proxy:3128",
                "--proxy-auth-secret-name",
                "corp",
                "--proxy-auth-secret-key",
                "k",
            ][..],
            "--proxy-auth-allow-insecure",
        ),
        (
            &[
                "--workspace-mode",
                "managed",
                "--https-proxy",
                "http://proxy:3128",
                "--proxy-auth-secret-name",
                "corp",
                "--proxy-auth-secret-key",
                "k",
                "--proxy-auth-allow-insecure",
            ][..],
            "--proxy-auth-secret-name",
        ),
    ] {
        let err = parse(args).expect_err(flag);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    assert_eq!(
        parse(&["--https-proxy", "http://proxy:3128", "--proxy-connect-by-hostname"]),
        Ok(())
    );
}

fn sandbox() -> crate::proto::DriverSandbox {
    use crate::proto::*;
    DriverSandbox {
        id: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b".into(),
        name: "agent".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["sleep".into(), "infinity".into()],
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn with_credential() -> crate::config::DriverConfig {
    let mut c = crate::config::DriverConfig::defaults();
    c.proxy = proxy(|p| {
        p.proxy_auth_secret_name = "corp-proxy".into();
        p.proxy_auth_secret_key = "credentials".into();
        p.proxy_auth_allow_insecure = true;
    });
    c
}

#[test]
fn the_agent_container_runs_the_supervisor_with_the_proxy_and_mounts_only_the_key() {
    use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
    let c = with_credential();
    let r = render_sandbox(&sandbox(), &c, SandboxApiVersion::V1beta1, &[]).expect("renders");
    let pod = &r.manifest.spec.pod_template.spec;
    let agent = &pod.containers[0];
    let command = agent.command.clone().expect("command");
    let supervisor = command
        .iter()
        .position(|a| a.ends_with("openshell-sandbox"))
        .expect("supervisor");
    assert_eq!(
        command[supervisor + 1..],
        [
            "--workdir",
            "/sandbox",
            "--upstream-proxy",
            "http://proxy.corp.example:3128",
            "--upstream-proxy-auth-file",
            "/etc/openshell/auth/upstream-proxy",
            "--upstream-proxy-auth-allow-insecure",
        ]
    );
    let volumes = pod.volumes.clone().unwrap_or_default();
    assert!(volumes.iter().any(|v| v.name == PROXY_AUTH_VOLUME));
    let mounts = agent.volume_mounts.clone().unwrap_or_default();
    assert!(
        mounts
            .iter()
            .any(|m| m.name == PROXY_AUTH_VOLUME && m.mount_path == PROXY_AUTH_DIR)
    );
    // The credential's names reach no env value, label or annotation; the proxy URL no env.
    let env = serde_json::to_string(&agent.env).expect("json");
    let meta = serde_json::to_string(&(&r.manifest.metadata, &r.manifest.spec.pod_template.metadata)).expect("json");
    for text in [&env, &meta] {
        assert!(
            !text.contains("corp-proxy") && !text.contains("proxy.corp.example"),
            "{text}"
        );
    }
    // A claim cannot be mounted over the credential's directory.
    let mut req = sandbox();
    let template = req.spec.as_mut().and_then(|s| s.template.as_mut()).expect("template");
    template.driver_config = crate::proto::json::json_to_struct(&serde_json::json!({
        "volume_mounts": [{"claim_name": "data", "mount_path": "/etc/openshell/auth"}]
    }));
    let err = render_sandbox(&req, &c, SandboxApiVersion::V1beta1, &[]).expect_err("reserved");
    assert!(err.to_string().contains("reserved path"), "{err}");
}

#[test]
fn openshift_refuses_a_proxy_credential_its_fsgroup_would_share_with_the_agent() {
    use crate::config::PlatformMode;
    use crate::openshift::decision::decide;
    use crate::openshift::detect::PlatformFacts;
    let openshift = PlatformFacts {
        scc_api: true,
        route_api: true,
        ..Default::default()
    };
    let c = with_credential();
    let err = decide(&c, &openshift, &sandbox()).expect_err("refused");
    assert!(
        matches!(err, crate::error::DriverError::FailedPrecondition(_)) && err.to_string().contains("fsGroup"),
        "{err}"
    );
    // Plain Kubernetes sets no fsGroup: the file stays root's alone.
    assert!(decide(&c, &PlatformFacts::default(), &sandbox()).is_ok());
    let mut forced = c.clone();
    forced.openshift.platform = PlatformMode::Kubernetes;
    assert!(decide(&forced, &openshift, &sandbox()).is_ok());
    // A proxy without a credential is fine on OpenShift.
    let mut plain = c;
    plain.proxy = proxy(|_| {});
    assert!(decide(&plain, &openshift, &sandbox()).is_ok());
}
