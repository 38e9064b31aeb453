//! Tier 1: the tests of `operator`.

use std::path::PathBuf;

use super::*;
use crate::config::WorkspaceMode;

fn operator(label: &str, file: Option<&str>) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.workspace_mode = WorkspaceMode::Operator;
    c.operator_namespace_label = label.into();
    c.operator_namespace_file = file.map(PathBuf::from);
    c
}

#[test]
fn selectors() {
    let cases = [
        ("openshell.ai/workspace=true", true),
        ("openshell.ai/workspace==true,team!=legacy", true),
        ("openshell.ai/workspace", true),
        ("!legacy", true),
        ("tier=", true),
        ("", false),
        ("a=b,", false),
        ("team in (a,b)", false),
        ("Bad Key=x", false),
        ("k=not valid", false),
        ("/name=x", false),
        ("-k=x", false),
    ];
    for (selector, ok) in cases {
        assert_eq!(validate_selector(selector).is_ok(), ok, "{selector:?}");
    }
}

#[test]
fn namespace_files() {
    let cases: [(&str, Result<&[&str], &str>); 5] = [
        (r#"["team-a", "team-b", "team-a"]"#, Ok(&["team-a", "team-b"])),
        ("[]", Ok(&[])),
        (r#"{"team-a": true}"#, Err("JSON array")),
        (r#"["Team-A"]"#, Err("\"Team-A\" is not a namespace name")),
        ("team-a\nteam-b", Err("JSON array")),
    ];
    for (text, want) in cases {
        match (parse_namespace_file(text), want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want.iter().map(|s| s.to_string()).collect(), "{text:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{text:?}: {got}"),
            (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn flags_by_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("ns.json");
    std::fs::write(&good, r#"["team-a"]"#).expect("write");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "team-a").expect("write");
    let good = good.to_str().expect("utf-8");
    let bad = bad.to_str().expect("utf-8");
    let mut shared_with_label = DriverConfig::defaults();
    shared_with_label.operator_namespace_label = "a=b".into();
    let mut managed_with_file = DriverConfig::defaults();
    managed_with_file.workspace_mode = WorkspaceMode::Managed;
    managed_with_file.operator_namespace_file = Some(good.into());
    let cases: Vec<(DriverConfig, Result<(), &str>)> = vec![
        (DriverConfig::defaults(), Ok(())),
        (
            shared_with_label,
            Err("--operator-namespace-label is used only with --workspace-mode operator"),
        ),
        (
            managed_with_file,
            Err("--operator-namespace-file is used only with --workspace-mode operator"),
        ),
        (operator("", None), Err("needs an allowlist")),
        (operator("openshell.ai/workspace=true", None), Ok(())),
        (operator("", Some(good)), Ok(())),
        (operator("a=b", Some(good)), Ok(())),
        (
            operator("a in (b)", None),
            Err("--operator-namespace-label \"a in (b)\""),
        ),
        (operator("", Some(bad)), Err("--operator-namespace-file: ")),
        (
            operator("", Some("/nonexistent/ns.json")),
            Err("--operator-namespace-file: /nonexistent/ns.json"),
        ),
    ];
    for (config, want) in cases {
        match (check_flags(&config), want) {
            (Ok(()), Ok(())) => {}
            (Err(got), Err(want)) => assert!(got.contains(want), "{got}"),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn decisions() {
    let set = |names: &[&str]| Some(names.iter().map(|s| s.to_string()).collect());
    let both = operator("openshell.ai/workspace=true", Some("/etc/ns.json"));
    let file_only = operator("", Some("/etc/ns.json"));
    let cases = [
        // (sources, config, namespace, code)
        (
            Sources {
                label: set(&["a"]),
                file: set(&["b"]),
            },
            &both,
            "a",
            None,
        ),
        (
            Sources {
                label: set(&["a"]),
                file: set(&["b"]),
            },
            &both,
            "b",
            None,
        ),
        (
            Sources {
                label: set(&["a"]),
                file: set(&["b"]),
            },
            &both,
            "c",
            Some(tonic::Code::FailedPrecondition),
        ),
        (
            Sources {
                label: None,
                file: set(&["b"]),
            },
            &both,
            "b",
            None,
        ),
        (
            Sources {
                label: None,
                file: set(&["b"]),
            },
            &both,
            "c",
            Some(tonic::Code::Unavailable),
        ),
        (
            Sources {
                label: None,
                file: set(&["b"]),
            },
            &file_only,
            "c",
            Some(tonic::Code::FailedPrecondition),
        ),
        (
            Sources::default(),
            &file_only,
            "c",
            Some(tonic::Code::FailedPrecondition),
        ),
    ];
    for (sources, config, ns, want) in cases {
        let got = sources.decide(ns, config).map_err(tonic::Status::from);
        assert_eq!(got.as_ref().err().map(tonic::Status::code), want, "{ns} {sources:?}");
        if let Err(status) = got
            && want == Some(tonic::Code::FailedPrecondition)
        {
            assert!(
                status.message().contains(&format!("workspace \"{ns}\"")),
                "{}",
                status.message()
            );
            assert!(status.message().contains("/etc/ns.json"), "{}", status.message());
        }
    }
}
