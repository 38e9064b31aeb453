//! Tier 1: the tests of `namespace`.

use super::*;

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn reads_the_first_uid_gid_and_the_level() {
    let cases: [(&[(&str, &str)], NamespaceSecurity); 5] = [
        (&[], NamespaceSecurity::default()),
        (
            &[(UID_RANGE_ANNOTATION, "1000680000/10000")],
            NamespaceSecurity {
                uid: Some(1000680000),
                ..Default::default()
            },
        ),
        (
            &[(SUPPLEMENTAL_GROUPS_ANNOTATION, "1000680000/10000,2000/5")],
            NamespaceSecurity {
                gid: Some(1000680000),
                ..Default::default()
            },
        ),
        (
            &[(UID_RANGE_ANNOTATION, "5000-5999"), (MCS_ANNOTATION, "s0:c26,c5")],
            NamespaceSecurity {
                uid: Some(5000),
                mcs_level: Some("s0:c26,c5".into()),
                ..Default::default()
            },
        ),
        (
            &[
                (UID_RANGE_ANNOTATION, "1000690000/10000"),
                (SUPPLEMENTAL_GROUPS_ANNOTATION, "1000690000/10000"),
                (MCS_ANNOTATION, "s0-s0:c0.c1023"),
            ],
            NamespaceSecurity {
                uid: Some(1000690000),
                gid: Some(1000690000),
                mcs_level: Some("s0-s0:c0.c1023".into()),
            },
        ),
    ];
    for (pairs, want) in cases {
        assert_eq!(
            namespace_security("ns", &annotations(pairs)).expect("valid"),
            want,
            "{pairs:?}"
        );
    }
}

#[test]
fn malformed_annotations_name_the_namespace_annotation_and_value() {
    let cases = [
        (UID_RANGE_ANNOTATION, ""),
        (UID_RANGE_ANNOTATION, "1000680000"),
        (UID_RANGE_ANNOTATION, "abc/10"),
        (UID_RANGE_ANNOTATION, "10/0"),
        (UID_RANGE_ANNOTATION, "-5/10"),
        (UID_RANGE_ANNOTATION, "4294967295/2"),
        (UID_RANGE_ANNOTATION, "20-10"),
        (SUPPLEMENTAL_GROUPS_ANNOTATION, "1000/10,bad"),
        (SUPPLEMENTAL_GROUPS_ANNOTATION, ",1000/10"),
        (MCS_ANNOTATION, "c26,c5"),
        (MCS_ANNOTATION, "s0:26"),
        (MCS_ANNOTATION, "s0:c1,"),
        (MCS_ANNOTATION, "s0;c1"),
    ];
    for (key, value) in cases {
        let err = namespace_security("team-a", &annotations(&[(key, value)])).expect_err(value);
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{key}={value}");
        let msg = err.to_string();
        assert!(
            msg.contains("namespace team-a") && msg.contains(key) && msg.contains(&format!("{value:?}")),
            "{msg}"
        );
    }
}

#[test]
fn only_a_young_unannotated_namespace_is_waited_for() {
    let annotated = annotations(&[(UID_RANGE_ANNOTATION, "1000/10")]);
    let bare = BTreeMap::new();
    let cases = [
        (&bare, 0, true),
        (&bare, 9, true),
        (&bare, 10, false),
        (&bare, 3600, false),
        (&annotated, 0, false),
    ];
    for (annotations, age, pending) in cases {
        assert_eq!(
            allocation_pending(annotations, age),
            pending,
            "{annotations:?} at {age}s"
        );
    }
}

#[test]
fn selinux_type_names() {
    for good in ["openshell_agent_t", "container_t", "spc_t"] {
        assert!(is_selinux_type(good), "{good}");
    }
    for bad in ["", "_t", "agent-t", "agent:t", "1_t"] {
        assert!(!is_selinux_type(bad), "{bad}");
    }
}
