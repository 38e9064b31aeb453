//! Tier 1: the tests of `identity`.

use super::*;

fn request(name: &str, workspace: &str) -> DriverSandbox {
    DriverSandbox {
        id: "3f2b8a4e-8d7c-4b1a-9a55-0f5d0c9e1a11".into(),
        name: name.into(),
        workspace: workspace.into(),
        ..Default::default()
    }
}

#[test]
fn object_names_by_mode() {
    let mut config = DriverConfig::defaults();
    let shared = identity_of(&request("dev", ""), &config).expect("valid");
    assert_eq!(
        (shared.namespace.as_str(), shared.object_name.as_str()),
        ("openshell-system", "default--dev")
    );
    assert_eq!(shared.workspace, "default");

    config.workspace_mode = WorkspaceMode::Managed;
    let managed = identity_of(&request("dev", "team-a"), &config).expect("valid");
    assert_eq!(
        (managed.namespace.as_str(), managed.object_name.as_str()),
        ("openshell-ws-team-a", "dev")
    );

    config.workspace_mode = WorkspaceMode::Operator;
    let operator = identity_of(&request("dev", "team-a"), &config).expect("valid");
    assert_eq!(
        (operator.namespace.as_str(), operator.object_name.as_str()),
        ("team-a", "dev")
    );
}

#[test]
fn rejects_bad_identities() {
    let config = DriverConfig::defaults();
    let cases = [
        ("", "default", "name"),
        ("Dev", "default", "name"),
        ("a--b", "default", "name"),
        ("-dev", "default", "name"),
        ("this-name-is-far-too-long", "default", "name"),
        ("dev", "Team", "workspace"),
        ("dev", "ws_1", "workspace"),
    ];
    for (name, ws, field) in cases {
        let err = identity_of(&request(name, ws), &config).expect_err(name);
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.to_string().contains(field), "{name}/{ws}: {err}");
    }
    let mut bad_id = request("dev", "");
    for id in ["", "has space", "-leading", &"x".repeat(64)] {
        bad_id.id = id.to_string();
        assert_eq!(
            identity_of(&bad_id, &config).expect_err(id).code(),
            tonic::Code::InvalidArgument
        );
    }
}

#[test]
fn driver_labels_carry_identity() {
    let config = DriverConfig::defaults();
    let id = identity_of(&request("dev", "ws"), &config).expect("valid");
    let labels = driver_labels(&id, "gw-1");
    assert_eq!(labels[LABEL_SANDBOX_ID], id.id);
    assert_eq!(labels[LABEL_GATEWAY_ID], "gw-1");
    assert_eq!(labels[LABEL_KAGENTI_TYPE], "agent");
    assert_eq!(
        Ownership::new("gw-1").selector(),
        "openshell.ai/managed-by=openshell,openshell.ai/gateway-id=gw-1"
    );
    assert!(Ownership::new("gw-1").owns(&labels), "a sandbox's labels are ours");
    assert!(!Ownership::new("gw-2").owns(&labels), "another gateway's are not");
}
