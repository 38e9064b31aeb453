//! Tier 1: the tests of `scc`.

use super::*;

#[test]
fn the_grant_binds_the_cluster_role_to_the_service_account_in_its_namespace() {
    let binding = scc_grant("ws-a", "default", "openshell-sandbox-scc", BTreeMap::new());
    assert_eq!(binding.metadata.namespace.as_deref(), Some("ws-a"));
    assert_eq!(
        (binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()),
        ("ClusterRole", "openshell-sandbox-scc")
    );
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", "default", Some("ws-a"))
    );
}
