//! Tier 1: the tests of `error`.

use super::*;
use kube::core::Status;

fn api(code: u16) -> kube::Error {
    kube::Error::Api(Box::new(Status::failure("boom", "Reason").with_code(code)))
}

#[test]
fn kube_errors_map_to_grpc_codes() {
    let cases = [
        (404, tonic::Code::NotFound),
        (409, tonic::Code::AlreadyExists),
        (403, tonic::Code::PermissionDenied),
        (401, tonic::Code::PermissionDenied),
        (400, tonic::Code::InvalidArgument),
        (422, tonic::Code::InvalidArgument),
        (500, tonic::Code::Unavailable),
        (503, tonic::Code::Unavailable),
        (429, tonic::Code::Unavailable),
    ];
    for (http, want) in cases {
        assert_eq!(
            DriverError::from_kube(api(http), "create", "sandboxes").code(),
            want,
            "http {http}"
        );
    }
}

#[test]
fn forbidden_names_verb_and_resource() {
    let err = DriverError::from_kube(api(403), "patch", "sandboxes.agents.x-k8s.io");
    let msg = err.to_string();
    assert!(
        msg.contains("patch") && msg.contains("sandboxes.agents.x-k8s.io"),
        "{msg}"
    );
}

#[test]
fn timeouts_are_unavailable_and_status_keeps_message() {
    let err = DriverError::timed_out("list", "nodes", Duration::from_secs(3));
    let status: tonic::Status = err.into();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(status.message().contains("list nodes"));
    assert_eq!(DriverError::NotFound("x".into()).metric_label(), "not_found");
}
