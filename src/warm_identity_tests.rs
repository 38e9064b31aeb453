use std::ffi::OsString;

use super::*;

fn os(s: &str) -> OsString {
    OsString::from(s)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    list.iter().map(|(n, v)| (os(n), os(v))).collect()
}

#[test]
fn the_environment_file_round_trips_values_with_equals_and_newlines() {
    let env = [("OPENSHELL_SANDBOX_ID", "sb-1"), ("GREETING", "a=b\nc"), ("EMPTY", "")];
    let decoded = decode_environment(&encode_environment(env)).expect("decodes");
    assert_eq!(decoded, pairs(&env));
}

#[test]
fn an_entry_without_a_name_is_refused() {
    for bytes in [&b"=value\0"[..], b"NOVALUE\0"] {
        assert!(decode_environment(bytes).is_err(), "{bytes:?}");
    }
}

/// Writes the volume's files (None leaves a file out).
fn volume(pod_id: Option<&str>, secret_id: Option<&str>, env: Option<Env>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(id) = pod_id {
        std::fs::write(dir.path().join(POD_SANDBOX_ID_FILE), id).expect("write");
    }
    if let Some(id) = secret_id {
        std::fs::write(dir.path().join(SANDBOX_ID_FILE), id).expect("write");
    }
    if let Some(env) = env {
        std::fs::write(
            dir.path().join(ENVIRONMENT_FILE),
            encode_environment(env.iter().copied()),
        )
        .expect("write");
    }
    dir
}

type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn what_the_waiter_does_with_each_state_of_the_volume() {
    let env: Env = &[("OPENSHELL_SANDBOX_ID", "sb-1"), ("USER_VAR", "x")];
    let other: Env = &[("OPENSHELL_SANDBOX_ID", "sb-2")];
    let unnamed: Env = &[("USER_VAR", "x")];
    // (what, pod annotation, Secret's id, Secret's environment, "waiting" | "bound" | "refused")
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<Env<'a>>, &'a str);
    let cases: &[Case] = &[
        ("a fresh member: an empty volume", None, None, None, "waiting"),
        ("the annotation is empty until a bind", Some(""), None, None, "waiting"),
        (
            "the Secret arrived before the annotation",
            None,
            Some("sb-1"),
            Some(env),
            "waiting",
        ),
        (
            "bound, the Secret not delivered yet",
            Some("sb-1"),
            None,
            None,
            "waiting",
        ),
        ("bound and delivered", Some("sb-1\n"), Some("sb-1"), Some(env), "bound"),
        (
            "an identity for another sandbox",
            Some("sb-1"),
            Some("sb-2"),
            Some(other),
            "refused",
        ),
        (
            "an environment naming another sandbox",
            Some("sb-1"),
            Some("sb-1"),
            Some(other),
            "refused",
        ),
        (
            "an environment naming no sandbox",
            Some("sb-1"),
            Some("sb-1"),
            Some(unnamed),
            "refused",
        ),
    ];
    for (what, pod_id, secret_id, env, want) in cases {
        let dir = volume(*pod_id, *secret_id, *env);
        let got = match read_delivery(dir.path()) {
            Delivery::Waiting(_) => "waiting",
            Delivery::Bound {
                sandbox_id,
                env: delivered,
            } => {
                assert_eq!(sandbox_id, "sb-1", "{what}");
                assert_eq!(delivered, pairs(env.unwrap_or_default()), "{what}");
                "bound"
            }
            Delivery::Refused(_) => "refused",
        };
        assert_eq!(got, *want, "{what}");
    }
}

#[test]
fn the_delivered_variables_win_over_the_containers() {
    let base = pairs(&[("PATH", "/bin"), ("USER_VAR", "image"), ("OPENSHELL_ENDPOINT", "e")]);
    let delivered = pairs(&[("USER_VAR", "request"), ("OPENSHELL_SANDBOX_ID", "sb-1")]);
    let env = with_identity(base, delivered);
    assert_eq!(
        env,
        pairs(&[
            ("PATH", "/bin"),
            ("OPENSHELL_ENDPOINT", "e"),
            ("USER_VAR", "request"),
            ("OPENSHELL_SANDBOX_ID", "sb-1"),
        ])
    );
}
