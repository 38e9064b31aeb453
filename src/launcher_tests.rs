//! Tier 1: the tests of `launcher`.

use super::*;

fn os(s: &str) -> OsString {
    s.into()
}

#[test]
fn each_variable_kept_or_dropped_and_why() {
    let keep: Vec<String> = ["OPENSHELL_SANDBOX_ID", "OPENSHELL_ENDPOINT", "OPENSHELL_LOG_LEVEL"]
        .map(str::to_string)
        .to_vec();
    let cases = [
        (
            "OPENSHELL_SANDBOX_ID",
            Verdict::Rendered,
            "the driver's identity for the sandbox",
        ),
        (
            "OPENSHELL_LOG_LEVEL",
            Verdict::Rendered,
            "rendered: the pod's value beats the image's",
        ),
        (
            "OPENSHELL_POLICY_RULES",
            Verdict::Dropped,
            "a local policy would replace the gateway's",
        ),
        ("OPENSHELL_POLICY_DATA", Verdict::Dropped, "same"),
        (
            "OPENSHELL_TLS_CA",
            Verdict::Dropped,
            "trust anchors are the driver's to give",
        ),
        (
            "OPENSHELL_NETWORK_BINARY_IDENTITY",
            Verdict::Dropped,
            "relaxes network policy",
        ),
        ("OPENSHELL_INFERENCE_ROUTES", Verdict::Dropped, "local inference routes"),
        (
            "OPENSHELL_SANDBOX_TOKEN",
            Verdict::Dropped,
            "a token source the driver did not give",
        ),
        ("OPENSHELL_", Verdict::Dropped, "the bare prefix"),
        (
            "openshell_policy_rules",
            Verdict::NotSupervisor,
            "names are case-sensitive; the supervisor reads upper case",
        ),
        ("PATH", Verdict::NotSupervisor, "the image's own environment"),
        ("GREETING", Verdict::NotSupervisor, "the user's variables"),
        (
            "XOPENSHELL_POLICY_RULES",
            Verdict::NotSupervisor,
            "prefix only at the start",
        ),
    ];
    for (name, want, why) in cases {
        assert_eq!(verdict(OsStr::new(name), &keep), want, "{name}: {why}");
    }
}

#[test]
fn scrub_keeps_order_and_reports_what_it_dropped() {
    let env = [
        (os("PATH"), os("/usr/bin")),
        (os("OPENSHELL_POLICY_DATA"), os("/etc/p.yaml")),
        (os("OPENSHELL_ENDPOINT"), os("http://gw")),
        (os("OPENSHELL_POLICY_RULES"), os("/etc/p.rego")),
    ];
    let (kept, dropped) = scrub(env, &["OPENSHELL_ENDPOINT".into()]);
    assert_eq!(
        kept,
        vec![
            (os("PATH"), os("/usr/bin")),
            (os("OPENSHELL_ENDPOINT"), os("http://gw"))
        ]
    );
    assert_eq!(dropped, ["OPENSHELL_POLICY_DATA", "OPENSHELL_POLICY_RULES"]);
}

#[test]
fn arguments() {
    let args = |a: &[&str]| a.iter().map(|s| os(s)).collect::<Vec<_>>();
    assert_eq!(
        parse_args(&args(&["copy-self", "/opt/bin"])),
        Ok(Launch::CopySelf(os("/opt/bin")))
    );
    assert_eq!(
        parse_args(&args(&[
            "--keep",
            "OPENSHELL_A,OPENSHELL_B",
            "--",
            "/sup",
            "--workdir",
            "/sandbox"
        ])),
        Ok(Launch::Exec {
            keep: vec!["OPENSHELL_A".into(), "OPENSHELL_B".into()],
            program: os("/sup"),
            args: args(&["--workdir", "/sandbox"]),
            identity_dir: None,
        })
    );
    assert_eq!(
        parse_args(&args(&[
            "wait-identity",
            "/var/run/openshell/identity",
            "--keep",
            "OPENSHELL_A",
            "--",
            "/sup"
        ])),
        Ok(Launch::Exec {
            keep: vec!["OPENSHELL_A".into()],
            program: os("/sup"),
            args: Vec::new(),
            identity_dir: Some(os("/var/run/openshell/identity")),
        })
    );
    let seed = |owner| Launch::SeedWorkspace {
        source: os("/sandbox"),
        dest: os("/seed"),
        owner,
    };
    assert_eq!(
        parse_args(&args(&["seed-workspace", "/sandbox", "/seed"])),
        Ok(seed(None))
    );
    assert_eq!(
        parse_args(&args(&[
            "seed-workspace",
            "/sandbox",
            "/seed",
            "--owner",
            "1000680000:1000680000"
        ])),
        Ok(seed(Some((1000680000, 1000680000))))
    );
    for bad in [
        &[][..],
        &["--keep", "A"][..],
        &["--keep", "A", "/sup"][..],
        &["copy-self"][..],
        &["wait-identity", "/dir"][..],
        &["wait-identity", "/dir", "copy-self", "/x"][..],
        &[
            "wait-identity",
            "/a",
            "wait-identity",
            "/b",
            "--keep",
            "A",
            "--",
            "/sup",
        ][..],
        &["seed-workspace", "/sandbox"][..],
        &["seed-workspace", "/sandbox", "/seed", "--owner", "root"][..],
        &["seed-workspace", "/sandbox", "/seed", "--owner", "1:x"][..],
    ] {
        assert!(parse_args(&args(bad)).is_err(), "{bad:?}");
    }
}
