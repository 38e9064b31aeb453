//! Tier 1: the tests of `create`.

use super::*;

#[test]
fn a_404_on_create_is_a_failed_precondition_naming_the_namespace() {
    let e = create_failure(DriverError::NotFound("namespaces \"x\" not found".into()), "x");
    assert_eq!(e.code(), tonic::Code::FailedPrecondition);
    assert!(e.to_string().contains("namespace x"), "{e}");
    let other = create_failure(DriverError::PermissionDenied("no".into()), "x");
    assert_eq!(other.code(), tonic::Code::PermissionDenied);
}
