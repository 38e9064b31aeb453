//! Tier 1: the tests of `request_rules`.

use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn environment_rules() {
    let long_value = "v".repeat(MAX_ENV_VALUE_LEN + 1);
    let long_key = format!("K{}", "k".repeat(MAX_ENV_KEY_LEN));
    let many: Vec<(String, String)> = (0..=MAX_ENV_ENTRIES).map(|i| (format!("K{i}"), "v".into())).collect();
    let big: Vec<(String, String)> = (0..40).map(|i| (format!("K{i}"), "v".repeat(8000))).collect();
    let cases: Vec<(&str, HashMap<String, String>, Option<&str>)> = vec![
        ("plain", env(&[("FOO", "bar"), ("_X1", "tab\tok")]), None),
        ("empty value", env(&[("FOO", "")]), None),
        (
            "reserved",
            env(&[("OPENSHELL_POLICY_RULES", "/x")]),
            Some("OPENSHELL_POLICY_RULES"),
        ),
        ("digit first", env(&[("1X", "v")]), Some("\"1X\"")),
        ("dash", env(&[("A-B", "v")]), Some("\"A-B\"")),
        ("equals", env(&[("A=B", "v")]), Some("\"A=B\"")),
        ("empty key", env(&[("", "v")]), Some("\"\"")),
        ("newline", env(&[("FOO", "a\nb")]), Some("FOO")),
        ("carriage return", env(&[("FOO", "a\rb")]), Some("FOO")),
        ("nul", env(&[("FOO", "a\0b")]), Some("FOO")),
        ("long value", env(&[("FOO", &long_value)]), Some("at most 8192")),
        ("long key", env(&[(&long_key, "v")]), Some("longer than 256")),
        ("too many", many.into_iter().collect(), Some("at most 128")),
        ("too big in all", big.into_iter().collect(), Some("at most 262144")),
    ];
    for (what, env, want) in cases {
        let got = check_environment("spec.environment", &env);
        match want {
            None => assert!(got.is_ok(), "{what}: {got:?}"),
            Some(text) => {
                let e = got.expect_err(what);
                assert_eq!(e.code(), tonic::Code::InvalidArgument, "{what}");
                assert!(e.to_string().contains(text), "{what}: {e}");
                assert!(
                    e.to_string().contains("spec.environment"),
                    "{what} names the field: {e}"
                );
            }
        }
    }
}

#[test]
fn reserved_metadata_prefixes() {
    let cases = [
        ("team", true),
        ("example.com/owner", true),
        ("openshell.io/sandbox-id", false),
        ("openshell.ai/sandbox-id", false),
        ("openshell.ai/anything", false),
        ("agents.x-k8s.io/pod-name", false),
        ("sub.openshell.io/x", true),
    ];
    for (key, ok) in cases {
        let got = check_not_reserved("template.labels", [&key.to_string()]);
        assert_eq!(got.is_ok(), ok, "{key}: {got:?}");
        if let Err(e) = got {
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.to_string().contains(key), "{e}");
        }
    }
}
