//! Tier 1: the tests of `permissions`.

use std::collections::BTreeSet;

use super::*;
use crate::kubernetes::permissions::tests::{granted, rule_set};

#[test]
fn deploy_rbac_grants_exactly_what_the_driver_needs() {
    let both = |a: &str, b: &str| granted(a).union(&granted(b)).cloned().collect::<BTreeSet<_>>();
    assert_eq!(
        granted("deploy/rbac.yaml"),
        rule_set(&required(WorkspaceMode::Shared, false))
    );
    assert_eq!(
        granted("deploy/rbac-managed.yaml"),
        rule_set(&required(WorkspaceMode::Managed, false))
    );
    assert_eq!(
        both("deploy/rbac.yaml", "deploy/openshift/rbac.yaml"),
        rule_set(&required(WorkspaceMode::Shared, true))
    );
    assert_eq!(
        both("deploy/rbac-managed.yaml", "deploy/openshift/rbac-managed.yaml"),
        rule_set(&required(WorkspaceMode::Managed, true))
    );
    assert_eq!(
        both("deploy/rbac-operator.yaml", "deploy/openshift/rbac-operator.yaml"),
        rule_set(&required(WorkspaceMode::Operator, true))
    );
}
