//! Tier 1: the tests of `grammar`.

use super::*;

#[test]
fn quantities() {
    let cases: &[(&str, Option<f64>)] = &[
        ("1", Some(1.0)),
        ("500m", Some(0.5)),
        ("1.5", Some(1.5)),
        ("2Gi", Some(2.0 * 1024f64.powi(3))),
        ("128Mi", Some(128.0 * 1024f64.powi(2))),
        ("1k", Some(1000.0)),
        ("1e3", Some(1000.0)),
        ("+2", Some(2.0)),
        ("-1", Some(-1.0)),
        ("", None),
        ("Gi", None),
        ("1.2.3", None),
        ("1GB", None),
        ("two", None),
        ("1 Gi", None),
        ("--1", None),
        ("1-", None),
        (".", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_quantity(text), *want, "{text:?}");
    }
    assert!(validate_quantity("cpu_limit", "-1").is_err());
    assert!(
        validate_quantity("cpu_limit", "lots")
            .expect_err("bad")
            .to_string()
            .contains("cpu_limit")
    );
}

#[test]
fn keys_values_paths() {
    for ok in ["app", "example.com/app", "a.b-c_d"] {
        assert!(validate_label_key("labels", ok).is_ok(), "{ok}");
    }
    for bad in ["", "-a", "a/", "/a", "Ex ample", "a/b/c", &"k".repeat(64)] {
        assert!(validate_label_key("labels", bad).is_err(), "{bad}");
    }
    assert!(validate_label_value("labels", "k", "").is_ok());
    assert!(validate_label_value("labels", "k", "has space").is_err());
    assert!(validate_path("mount_path", "/data", true).is_ok());
    assert!(validate_path("mount_path", "/data/../etc", true).is_err());
    assert!(validate_path("mount_path", "data", true).is_err());
    assert!(validate_path("sub_path", "a/b", false).is_ok());
    assert!(validate_path("sub_path", "/a", false).is_err());
    assert!(is_dns_subdomain("my-claim.v1") && !is_dns_subdomain("My_claim"));
}
