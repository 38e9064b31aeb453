//! Status: a Sandbox object (as the API server stores it) becomes the gateway's snapshot.
//! Only fields the agent-sandbox CRD really has are read.

use kube::ResourceExt;
use kube::api::DynamicObject;
use serde::Deserialize;

use crate::kubernetes::identity::{LABEL_SANDBOX_ID, LABEL_SANDBOX_NAME, LABEL_WORKSPACE, POD_NAME_ANNOTATION};
use crate::proto::list::encode_entry;
use crate::proto::phase::gateway_phase;
use crate::proto::{DriverCondition, DriverSandbox, DriverSandboxStatus};
use crate::provisioner::SandboxEndpoint;

/// The subset of `status` of agents.x-k8s.io Sandboxes (v1alpha1 and v1beta1 alike).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SandboxStatus {
    #[serde(default)]
    conditions: Vec<Condition>,
    #[serde(default, rename = "podIPs")]
    pod_ips: Vec<String>,
    #[serde(default)]
    node_name: String,
    #[serde(default, rename = "serviceFQDN")]
    service_fqdn: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    last_transition_time: String,
}

/// Everything the driver derives from one Sandbox object.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxView {
    pub snapshot: DriverSandbox,
    pub endpoint: SandboxEndpoint,
    pub namespace: String,
    pub object_name: String,
    pub uid: String,
    /// `Suspended=True`: the workload is really stopped.
    pub suspended: bool,
    /// The conditions as the controller wrote them, before the pod's failure (if any) is laid
    /// over the snapshot's `Ready` condition (see `pod_status`).
    pub controller_conditions: Vec<DriverCondition>,
    /// The snapshot as a List sends it, encoded at the first List after it changed.
    pub encoded: EncodedOnce,
}

/// The wire bytes of a view's snapshot, made once. A clone starts empty: views are cloned to be
/// changed, and a changed snapshot must never go out with the old bytes.
#[derive(Default)]
pub struct EncodedOnce(std::sync::OnceLock<prost::bytes::Bytes>);

impl Clone for EncodedOnce {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// A cache of the snapshot, not part of the view's value.
impl PartialEq for EncodedOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for EncodedOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "EncodedOnce(kept)"
        } else {
            "EncodedOnce(empty)"
        })
    }
}

impl SandboxView {
    pub fn id(&self) -> &str {
        &self.snapshot.id
    }

    /// The snapshot as one entry of a `ListSandboxesResponse`, encoded once per view.
    pub fn encoded(&self) -> prost::bytes::Bytes {
        self.encoded.0.get_or_init(|| encode_entry(&self.snapshot)).clone()
    }

    /// The phase the gateway derives, for metrics (bounded label values).
    pub fn phase(&self) -> &'static str {
        gateway_phase(&self.snapshot)
    }
}

/// Maps a Sandbox to the gateway's view; `None` for objects without our id label.
pub fn sandbox_view(obj: &DynamicObject) -> Option<SandboxView> {
    let labels = obj.labels();
    let id = labels.get(LABEL_SANDBOX_ID)?.clone();
    let name = labels.get(LABEL_SANDBOX_NAME).cloned().unwrap_or_default();
    let workspace = labels.get(LABEL_WORKSPACE).cloned().unwrap_or_default();
    let object_name = obj.name_any();
    let namespace = obj.namespace().unwrap_or_default();
    // A malformed status must not hide the sandbox: it is reported without conditions.
    let status: SandboxStatus = obj
        .data
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
        .unwrap_or_default();
    let instance_id = obj
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_NAME_ANNOTATION))
        .cloned()
        .unwrap_or_else(|| object_name.clone());
    let mut conditions: Vec<DriverCondition> = status
        .conditions
        .iter()
        .map(|c| DriverCondition {
            r#type: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition_time: c.last_transition_time.clone(),
        })
        .collect();
    if let Some(expired) = crate::kubernetes::expiry::expired_condition(&conditions) {
        // The controller reports `Suspended=False, NotSuspended` beside an expired `Ready`: one
        // Suspended condition, ours, so no reader picks the controller's first.
        conditions.retain(|c| c.r#type != "Suspended");
        conditions.push(expired);
    }
    let suspended = conditions.iter().any(|c| c.r#type == "Suspended" && c.status == "True");
    let snapshot = DriverSandbox {
        id,
        name,
        namespace: namespace.clone(),
        workspace,
        spec: None,
        status: Some(DriverSandboxStatus {
            sandbox_name: object_name.clone(),
            instance_id: instance_id.clone(),
            agent_fd: String::new(),
            sandbox_fd: String::new(),
            conditions: conditions.clone(),
            deleting: obj.metadata.deletion_timestamp.is_some(),
        }),
    };
    let endpoint = SandboxEndpoint {
        pod_ips: status.pod_ips,
        service_fqdn: status.service_fqdn,
        node_name: status.node_name,
        route_host: String::new(),
        instance_id,
    };
    Some(SandboxView {
        snapshot,
        endpoint,
        namespace,
        object_name,
        uid: obj.uid().unwrap_or_default(),
        suspended,
        controller_conditions: conditions,
        encoded: EncodedOnce::default(),
    })
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
