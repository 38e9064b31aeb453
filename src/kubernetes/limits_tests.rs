//! Tier 1: the tests of `limits`.

use super::*;

#[test]
fn image_references_follow_the_grammar() {
    let cases = [
        ("registry.example/agent:1", true),
        ("agent", true),
        (
            "localhost:5000/team/agent@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            true,
        ),
        ("ghcr.io/nvidia/openshell/sandbox:v0.1.0-rc.1", true),
        ("a b", false),
        ("openshell-e2e/Bad:1", false),
        ("registry.example/agent:", false),
        ("registry.example/agent:-tag", false),
        ("registry.example/agent@sha256:short", false),
        ("registry.example//agent", false),
        (" agent", false),
        ("agent\n", false),
    ];
    for (image, ok) in cases {
        let got = validate_image("template.image", image);
        assert_eq!(got.is_ok(), ok, "{image:?}: {got:?}");
        if let Err(e) = got {
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.to_string().contains("template.image"), "{e}");
        }
    }
}

#[test]
fn annotations_stay_within_256_kib() {
    let at = BTreeMap::from([("k".to_string(), "v".repeat(MAX_ANNOTATIONS_BYTES - 1))]);
    assert!(check_annotations_size("platform_config.annotations", &at).is_ok());
    let over = BTreeMap::from([
        ("big".to_string(), "v".repeat(300 * 1024)),
        ("small".to_string(), "v".into()),
    ]);
    let e = check_annotations_size("platform_config.annotations", &over).expect_err("over");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    for part in ["262144", "platform_config.annotations[big]"] {
        assert!(e.to_string().contains(part), "{part}: {e}");
    }
}

#[test]
fn an_object_too_large_to_store_names_the_limit_and_the_largest_fields() {
    let mut spec = DriverSandboxSpec::default();
    spec.environment.insert("BIG".into(), "x".repeat(2 * 1024 * 1024));
    spec.environment.insert("SMALL".into(), "y".into());
    let e = check_encoded_size("Sandbox", &spec.environment, &spec).expect_err("too large");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    for part in ["1048576", "spec.environment[BIG]", "Sandbox"] {
        assert!(e.to_string().contains(part), "{part}: {e}");
    }
    assert!(
        !e.to_string().contains(&"x".repeat(100)),
        "the value itself is not echoed"
    );
    spec.environment.remove("BIG");
    assert!(check_encoded_size("Sandbox", &spec.environment, &spec).is_ok());
}

#[test]
fn a_token_too_large_for_its_secret_is_refused_at_render() {
    use crate::config::{DriverConfig, SandboxAuth};
    use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
    use crate::proto::{DriverSandbox, DriverSandboxTemplate};
    let mut config = DriverConfig::defaults();
    config.gateway_endpoint = "https://gateway.example:8443".into();
    config.client_tls_secret = "openshell-client-tls".into();
    config.sandbox_auth = SandboxAuth::TokenFile;
    let request = |token: String| DriverSandbox {
        id: "3f2b8a4e-8d7c-4b1a-9a55-0f5d0c9e1a11".into(),
        name: "dev".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/sh".into()],
            sandbox_token: token,
            template: Some(DriverSandboxTemplate {
                image: "registry.example/agent:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let ok = render_sandbox(&request("t".into()), &config, SandboxApiVersion::V1beta1, &[]);
    assert!(
        ok.as_ref().is_ok_and(|r| r.token_secret.is_some()),
        "a token Secret is rendered: {ok:?}"
    );
    let e = render_sandbox(
        &request("t".repeat(2 * 1024 * 1024)),
        &config,
        SandboxApiVersion::V1beta1,
        &[],
    )
    .expect_err("too large");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    for part in ["token Secret", "1048576", "spec.sandbox_token"] {
        assert!(e.to_string().contains(part), "{part}: {e}");
    }
}
