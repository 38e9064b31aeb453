//! The cluster's Nodes, kept in memory by one watch: a GPU create's capacity check and
//! platform discovery's SELinux label read the store instead of listing every Node.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus};
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::error::DriverError;
use crate::kubernetes::render::GPU_RESOURCE;
use crate::kubernetes::watch::follow;

/// The Nodes, with only what the driver reads of them. The watch starts on first use: a
/// driver that never checks GPUs or SELinux labels never watches Nodes.
#[derive(Clone)]
pub struct NodeStore {
    client: kube::Client,
    shutdown: watch::Receiver<bool>,
    store: Arc<OnceLock<Store<Node>>>,
}

impl NodeStore {
    pub fn new(client: kube::Client, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            client,
            shutdown,
            store: Arc::new(OnceLock::new()),
        }
    }

    fn store(&self) -> &Store<Node> {
        self.store.get_or_init(|| {
            let (store, writer) = reflector::store();
            let nodes: Api<Node> = Api::all(self.client.clone());
            let stream = reflector::reflector(writer, watcher(nodes, watcher::Config::default()).modify(slim));
            tokio::spawn(follow(stream, self.shutdown.clone(), "Node", |_| {}));
            store
        })
    }

    /// Every Node, once the first list is in (UNAVAILABLE after `within` without it).
    pub async fn nodes(&self, within: Duration) -> Result<Vec<Arc<Node>>, DriverError> {
        let store = self.store();
        match tokio::time::timeout(within, store.wait_until_ready()).await {
            Ok(Ok(())) => Ok(store.state()),
            _ => Err(DriverError::Unavailable(
                "the Node list has not been read from the API server yet (can the driver list and watch nodes?)".into(),
            )),
        }
    }
}

/// Keeps the name, labels, cordon and GPU allocatable of a Node and drops the rest (images,
/// conditions, managed fields), so that a large cluster costs little memory.
pub fn slim(node: &mut Node) {
    let gpus = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(GPU_RESOURCE))
        .cloned();
    let unschedulable = node.spec.as_ref().and_then(|s| s.unschedulable);
    node.metadata.managed_fields = None;
    node.metadata.annotations = None;
    node.spec = Some(NodeSpec {
        unschedulable,
        ..Default::default()
    });
    node.status = Some(NodeStatus {
        allocatable: gpus.map(|g| [(GPU_RESOURCE.to_string(), g)].into()),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::capacity::check_gpu_capacity;
    use serde_json::json;

    #[test]
    fn a_slim_node_keeps_what_capacity_and_discovery_read() {
        let mut node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"selinux": "yes"}, "annotations": {"big": "x"},
                         "managedFields": [{"manager": "kubelet"}]},
            "spec": {"unschedulable": false, "podCIDR": "10.0.0.0/24"},
            "status": {"allocatable": {"cpu": "8", GPU_RESOURCE: "4"},
                       "images": [{"names": ["a"], "sizeBytes": 1}]}
        }))
        .expect("node");
        slim(&mut node);
        assert_eq!(
            node.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("selinux"))
                .map(String::as_str),
            Some("yes")
        );
        assert!(node.metadata.annotations.is_none() && node.metadata.managed_fields.is_none());
        let status = node.status.as_ref().expect("status");
        assert!(status.images.is_none());
        assert_eq!(status.allocatable.as_ref().map(|a| a.len()), Some(1));
        let nodes = [Arc::new(node)];
        assert!(check_gpu_capacity(nodes.iter().map(AsRef::as_ref), 4).is_ok());
        assert!(check_gpu_capacity(nodes.iter().map(AsRef::as_ref), 5).is_err());
    }
}
