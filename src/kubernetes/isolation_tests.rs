//! Tier 1: driver-wide user namespaces and AppArmor, and a sandbox's override.

use super::*;

fn platform(host_users: Option<bool>, app_armor: Option<&str>) -> PlatformConfig {
    PlatformConfig {
        host_users,
        app_armor_profile: app_armor.map(str::to_string),
        ..Default::default()
    }
}

#[test]
fn the_sandbox_overrides_the_driver_default() {
    let mut on = DriverConfig::defaults();
    on.enable_user_namespaces = true;
    on.app_armor_profile = AppArmor::Unconfined;
    let off = DriverConfig::defaults();
    let local = AppArmor::Localhost("openshell".into());
    for (config, host_users, app_armor, want_users, want_armor) in [
        (&off, None, None, None, AppArmor::Unset),
        (&off, Some(false), None, Some(false), AppArmor::Unset),
        (&on, None, None, Some(false), AppArmor::Unconfined),
        (&on, Some(true), None, Some(true), AppArmor::Unconfined),
        (
            &on,
            Some(false),
            Some("runtime-default"),
            Some(false),
            AppArmor::RuntimeDefault,
        ),
        (&on, None, Some("localhost/openshell"), Some(false), local.clone()),
        (&on, None, Some(""), Some(false), AppArmor::Unset),
        (&off, None, Some("unconfined"), None, AppArmor::Unconfined),
    ] {
        let got = isolation(&platform(host_users, app_armor), config).expect("valid");
        assert_eq!(
            got,
            Isolation {
                host_users: want_users,
                app_armor: want_armor
            },
            "{host_users:?} {app_armor:?}"
        );
    }
}

#[test]
fn a_bad_profile_is_invalid_argument_naming_the_key() {
    for bad in ["Unconfined", "localhost/", "localhost/a b", "docker-default"] {
        let err = isolation(&platform(None, Some(bad)), &DriverConfig::defaults()).expect_err(bad);
        assert!(
            matches!(err, DriverError::InvalidArgument(_))
                && err.to_string().contains("platform_config.app_armor_profile"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn the_driver_default_reaches_the_pod_with_the_user_namespace_capabilities() {
    use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
    use crate::proto::*;
    let request = |platform: serde_json::Value| DriverSandbox {
        id: "6f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b".into(),
        name: "agent".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["sleep".into()],
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                platform_config: crate::proto::json::json_to_struct(&platform),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut config = DriverConfig::defaults();
    config.enable_user_namespaces = true;
    config.app_armor_profile = AppArmor::Unconfined;
    let rendered = |platform| {
        let r = render_sandbox(&request(platform), &config, SandboxApiVersion::V1beta1, &[]).expect("renders");
        let pod = r.manifest.spec.pod_template.spec;
        let sc = pod.containers[0].security_context.clone().expect("securityContext");
        let caps = sc.capabilities.and_then(|c| c.add).unwrap_or_default();
        (pod.host_users, caps, sc.app_armor_profile.map(|p| p.type_))
    };
    let (users, caps, armor) = rendered(serde_json::json!({}));
    assert_eq!(users, Some(false));
    assert!(
        ["SETUID", "SETGID", "DAC_READ_SEARCH"]
            .iter()
            .all(|c| caps.contains(&c.to_string())),
        "{caps:?}"
    );
    assert_eq!(armor.as_deref(), Some("Unconfined"));
    let (users, caps, armor) =
        rendered(serde_json::json!({"host_users": true, "app_armor_profile": "runtime-default"}));
    assert_eq!(users, Some(true));
    assert_eq!(caps, ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"]);
    assert_eq!(armor.as_deref(), Some("RuntimeDefault"));
    let err = render_sandbox(
        &request(serde_json::json!({"app_armor_profile": "strict"})),
        &config,
        SandboxApiVersion::V1beta1,
        &[],
    )
    .expect_err("invalid");
    assert!(matches!(err, DriverError::InvalidArgument(_)) && err.to_string().contains("app_armor_profile"));
    let err = render_sandbox(
        &request(serde_json::json!({"app_armor_profile": 3})),
        &config,
        SandboxApiVersion::V1beta1,
        &[],
    )
    .expect_err("invalid type");
    assert!(
        matches!(err, DriverError::InvalidArgument(_)) && err.to_string().contains("platform_config"),
        "{err}"
    );
}
