//! Tier 1: the tests of `expose`.

use super::*;
use crate::config::DriverConfig;
use crate::proto::json::json_to_struct;
use crate::proto::{DriverSandboxSpec, DriverSandboxTemplate};

fn request(expose: Option<serde_json::Value>) -> DriverSandbox {
    let platform = expose.map(|e| json_to_struct(&serde_json::json!({ "expose": e })).expect("object"));
    DriverSandbox {
        spec: Some(DriverSandboxSpec {
            template: Some(DriverSandboxTemplate {
                platform_config: platform,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn exposure(port: u16, tls: RouteTls, host: Option<&str>, auth: ExposeAuth) -> Option<Exposure> {
    Some(Exposure {
        port,
        tls,
        host: host.map(str::to_string),
        auth,
    })
}

#[test]
fn requests_and_defaults_become_one_exposure() {
    use serde_json::json;
    let plain = DriverConfig::defaults().openshift;
    let mut defaulted = plain.clone();
    defaulted.expose_port = Some(3000);
    defaulted.expose_tls = RouteTls::Passthrough;
    let cases = [
        (&plain, None, None),
        (
            &defaulted,
            None,
            exposure(3000, RouteTls::Passthrough, None, ExposeAuth::None),
        ),
        (&defaulted, Some(json!(false)), None),
        (
            &defaulted,
            Some(json!(true)),
            exposure(3000, RouteTls::Passthrough, None, ExposeAuth::None),
        ),
        (
            &plain,
            Some(json!({"port": 8080})),
            exposure(8080, RouteTls::Edge, None, ExposeAuth::None),
        ),
        (
            &plain,
            Some(json!({"port": 8080, "tls": "reencrypt", "host": "dev.apps.example.com"})),
            exposure(
                8080,
                RouteTls::Reencrypt,
                Some("dev.apps.example.com"),
                ExposeAuth::None,
            ),
        ),
        (
            &plain,
            Some(json!({"port": 8080, "auth": "openshift"})),
            exposure(8080, RouteTls::Reencrypt, None, ExposeAuth::Openshift),
        ),
        (
            &defaulted,
            Some(json!({"port": 9000})),
            exposure(9000, RouteTls::Passthrough, None, ExposeAuth::None),
        ),
    ];
    for (config, expose, want) in cases {
        assert_eq!(
            exposure_of(&request(expose.clone()), config).expect("valid"),
            want,
            "{expose:?}"
        );
    }
}

#[test]
fn bad_exposure_is_invalid_argument_naming_the_problem() {
    use serde_json::json;
    let plain = DriverConfig::defaults().openshift;
    let cases = [
        (json!(true), "port is required"),
        (json!({"tls": "edge"}), "port is required"),
        (json!({"port": 0}), "between 1 and 65535"),
        (json!({"port": 70000}), "expose"),
        (json!({"port": 80, "tls": "none"}), "expose"),
        (json!({"port": 80, "prot": 1}), "prot"),
        (json!({"port": 80, "host": "Not A Host"}), "not a DNS name"),
        (
            json!({"port": 80, "auth": "openshift", "tls": "edge"}),
            "needs tls reencrypt",
        ),
        (json!({"port": 8443, "auth": "openshift"}), "oauth-proxy's own port"),
        (json!("yes"), "expose"),
    ];
    for (expose, needle) in cases {
        let err = exposure_of(&request(Some(expose.clone())), &plain).expect_err(&expose.to_string());
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{expose}");
        assert!(err.to_string().contains(needle), "{expose}: {err}");
    }
}
