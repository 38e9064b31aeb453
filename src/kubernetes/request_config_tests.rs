//! Tier 1: the tests of `request_config`.

use serde_json::json;

use super::*;
use crate::proto::json::json_to_struct;

fn block(v: serde_json::Value) -> pbjson_types::Struct {
    json_to_struct(&v).expect("object")
}

#[test]
fn platform_config_table() {
    let ok = parse_platform_config(
        Some(&block(json!({
            "runtime_class_name": "kata",
            "node_selector": {"gpu": "a100"},
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "annotations": {"example.com/team": "ml"},
            "host_users": false,
            "resources_raw": {"limits": {"example.com/fpga": "1"}},
            "expose": {"port": 8080}
        }))),
        &["expose"],
    )
    .expect("valid");
    assert_eq!(ok.runtime_class_name.as_deref(), Some("kata"));
    assert_eq!(ok.tolerations.len(), 1);
    assert_eq!(ok.host_users, Some(false));

    let bad = [
        (json!({"runtime_clas_name": "kata"}), "runtime_clas_name"),
        (json!({"runtime_class_name": "Kata!"}), "runtime_class_name"),
        (json!({"node_selector": {"bad key": "x"}}), "node_selector"),
        (json!({"host_users": "yes"}), "platform_config"),
        (
            json!({"resources_raw": {"limits": {"cpu": "lots"}}}),
            "resources_raw.limits.cpu",
        ),
        (json!({"resources_raw": {"limitz": {}}}), "limitz"),
        (json!({"expose": {"port": 8080}}), "expose"),
    ];
    for (input, needle) in bad {
        let err = parse_platform_config(Some(&block(input.clone())), &[]).expect_err(&input.to_string());
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.to_string().contains(needle), "{input}: {err}");
    }
}

#[test]
fn driver_config_table() {
    let reserved = ["/opt/openshell/bin", "/var/run/secrets/openshell"];
    let ok = parse_driver_config(
        Some(&block(json!({
            "volume_mounts": [{"claim_name": "data", "mount_path": "/data", "read_only": true}],
            "agent_resources": {"requests": {"cpu": "250m"}}
        }))),
        &reserved,
    )
    .expect("valid");
    assert_eq!(ok.volume_mounts[0].claim_name, "data");

    let bad = [
        (json!({"volumes": []}), "volumes"),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/a/../etc"}]}),
            "..",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "rel"}]}),
            "absolute",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/x", "sub_path": "../y"}]}),
            "sub_path",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "D_D", "mount_path": "/x"}]}),
            "claim_name",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/opt/openshell/bin"}]}),
            "reserved",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/opt"}]}),
            "reserved",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/x"}, {"claim_name": "e", "mount_path": "/x/"}]}),
            "twice",
        ),
        (
            json!({"volume_mounts": [{"claim_name": "d", "mount_path": "/x", "mode": "rw"}]}),
            "mode",
        ),
        (
            json!({"agent_resources": {"limits": {"memory": "1GB"}}}),
            "agent_resources.limits.memory",
        ),
    ];
    for (input, needle) in bad {
        let err = parse_driver_config(Some(&block(input.clone())), &reserved).expect_err(&input.to_string());
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.to_string().contains(needle), "{input}: {err}");
    }
}
