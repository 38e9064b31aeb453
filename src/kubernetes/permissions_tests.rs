//! Tier 1: the tests of `permissions`.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::*;

/// (verb, group, resource, namespaced) granted by the Roles and ClusterRoles of a file.
pub fn granted(file: &str) -> BTreeSet<(String, String, String, bool)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(path).expect("rbac file");
    let mut out = BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).expect("yaml");
        let kind = v["kind"].as_str().unwrap_or_default();
        if kind != "Role" && kind != "ClusterRole" {
            continue;
        }
        for rule in v["rules"].as_sequence().into_iter().flatten() {
            let strings = |k: &str| {
                rule[k]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            };
            for group in strings("apiGroups") {
                for resource in strings("resources") {
                    for verb in strings("verbs") {
                        out.insert((verb, group.clone(), resource.clone(), kind == "Role"));
                    }
                }
            }
        }
    }
    out
}

pub fn rule_set(rules: &[Permission]) -> BTreeSet<(String, String, String, bool)> {
    rules
        .iter()
        .map(|p| (p.verb.into(), p.group.into(), p.resource.into(), p.namespaced))
        .collect()
}

#[test]
fn deploy_rbac_grants_exactly_what_the_driver_needs() {
    assert_eq!(granted("deploy/rbac.yaml"), rule_set(&required(WorkspaceMode::Shared)));
    assert_eq!(
        granted("deploy/rbac-managed.yaml"),
        rule_set(&required(WorkspaceMode::Managed))
    );
    assert_eq!(
        granted("deploy/rbac-operator.yaml"),
        rule_set(&required(WorkspaceMode::Operator))
    );
}

/// Operator mode uses the platform team's namespaces: it may never make or remove one.
#[test]
fn operator_mode_has_no_namespace_writes() {
    let namespace_verbs: Vec<&str> = required(WorkspaceMode::Operator)
        .iter()
        .filter(|p| p.resource == "namespaces")
        .map(|p| p.verb)
        .collect();
    assert_eq!(namespace_verbs, ["list", "watch"]);
}
