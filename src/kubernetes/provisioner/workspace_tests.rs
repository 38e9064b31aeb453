//! Tier 1: the tests of `workspace`.

use super::*;

fn tls_secret(keys: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("client-tls".into()),
            ..Default::default()
        },
        data: Some(
            keys.iter()
                .map(|(k, v)| (k.to_string(), k8s_openapi::ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

#[test]
fn a_client_tls_secret_needs_its_three_keys() {
    let full = [("ca.crt", "CA"), ("tls.crt", "CERT"), ("tls.key", "KEY")];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);
    let cases: [Case; 4] = [
        ("complete", &full, None),
        ("no CA", &full[1..], Some("lacks ca.crt")),
        (
            "empty key",
            &[("ca.crt", "CA"), ("tls.crt", "CERT"), ("tls.key", "")],
            Some("lacks tls.key"),
        ),
        ("nothing", &[], Some("lacks ca.crt, tls.crt, tls.key")),
    ];
    for (what, keys, want) in cases {
        let got = check_client_tls(&tls_secret(keys), "ns");
        match want {
            None => assert!(got.is_ok(), "{what}: {got:?}"),
            Some(text) => {
                let e = got.expect_err(what);
                assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{what}");
                assert!(e.to_string().contains(text), "{what}: {e}");
                assert!(e.to_string().contains("client-tls"), "{what} names the Secret: {e}");
            }
        }
    }
}
