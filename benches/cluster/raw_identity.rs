//! Who sends the raw comparison creates. The driver's requests are a ServiceAccount's: token
//! authentication, and API Priority and Fairness level `workload-low`. The cluster admin's are
//! exempt from APF, and at 16 callers the first run measured the driver's own POST at 430 ms
//! against 290 ms for the admin's, with 5 ms spent in the driver. So the raw creates are sent by
//! a ServiceAccount too, `bench-raw`, whose own FlowSchema puts it on the same priority level
//! while keeping its requests out of the `service-accounts` count that is the driver's.

use std::path::Path;

use crate::common::cluster::{Cluster, client_for};

pub const RAW_ACCOUNT: &str = "bench-raw";

/// The `bench-raw` ServiceAccount of `namespace`, allowed to create Sandboxes there, as a client.
pub async fn raw_client(cluster: &Cluster, namespace: &str, dir: &Path) -> kube::Client {
    let objects = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ServiceAccount",
             "metadata": {"name": RAW_ACCOUNT, "namespace": namespace}},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
             "metadata": {"name": RAW_ACCOUNT, "namespace": namespace},
             "rules": [{"apiGroups": ["agents.x-k8s.io"], "resources": ["sandboxes"], "verbs": ["create"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
             "metadata": {"name": RAW_ACCOUNT, "namespace": namespace},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RAW_ACCOUNT},
             "subjects": [{"kind": "ServiceAccount", "name": RAW_ACCOUNT, "namespace": namespace}]},
            {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
             "metadata": {"name": format!("{RAW_ACCOUNT}-{namespace}")},
             "spec": {
                 "matchingPrecedence": 1000,
                 "priorityLevelConfiguration": {"name": "workload-low"},
                 "distinguisherMethod": {"type": "ByUser"},
                 "rules": [{
                     "subjects": [{"kind": "ServiceAccount",
                                   "serviceAccount": {"name": RAW_ACCOUNT, "namespace": namespace}}],
                     "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                        "namespaces": ["*"]}],
                 }],
             }},
        ],
    });
    cluster.kubectl(&["apply", "-f", "-"], Some(&objects.to_string()));
    let token = cluster.kubectl(
        &["create", "token", RAW_ACCOUNT, "-n", namespace, "--duration=2h"],
        None,
    );
    let admin = kube::config::Kubeconfig::read_from(&cluster.kubeconfig).expect("admin kubeconfig");
    let mut kubeconfig = admin.clone();
    for user in &mut kubeconfig.auth_infos {
        if let Some(auth) = user.auth_info.as_mut() {
            *auth = kube::config::AuthInfo {
                token: Some(token.trim().to_string().into()),
                ..Default::default()
            };
        }
    }
    let path = dir.join("bench-raw.kubeconfig");
    std::fs::write(&path, serde_yaml::to_string(&kubeconfig).expect("yaml")).expect("write");
    client_for(&path).await
}

/// Removes the FlowSchema (cluster-scoped; the rest goes with the namespace).
pub fn remove(cluster: &Cluster, namespace: &str) {
    let _ = cluster.try_kubectl(
        &[
            "delete",
            "flowschema",
            &format!("{RAW_ACCOUNT}-{namespace}"),
            "--ignore-not-found",
        ],
        None,
    );
}
