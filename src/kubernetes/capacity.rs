//! GPU capacity check for ValidateSandboxCreate: pure over a node list.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::error::DriverError;
use crate::kubernetes::render::GPU_RESOURCE;
use crate::kubernetes::validation::parse_quantity;

/// Allocatable GPUs of a node, or 0 when it is cordoned or has none.
fn schedulable_gpus(node: &Node) -> u64 {
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        return 0;
    }
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(GPU_RESOURCE))
        .and_then(|q| parse_quantity(&q.0))
        .map_or(0, |v| v.max(0.0) as u64)
}

/// FAILED_PRECONDITION unless some schedulable node can hold `count` GPUs.
pub fn check_gpu_capacity(nodes: &[Arc<Node>], count: u32) -> Result<(), DriverError> {
    let largest = nodes.iter().map(|n| schedulable_gpus(n)).max().unwrap_or(0);
    if largest >= u64::from(count) {
        Ok(())
    } else {
        Err(DriverError::FailedPrecondition(format!(
            "no schedulable node has {count} allocatable {GPU_RESOURCE} (the most on one node is {largest})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(gpus: Option<&str>, unschedulable: bool) -> Arc<Node> {
        let mut alloc = json!({"cpu": "8"});
        if let Some(g) = gpus {
            alloc[GPU_RESOURCE] = json!(g);
        }
        serde_json::from_value(json!({
            "metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable},
            "status": {"allocatable": alloc}
        }))
        .map(Arc::new)
        .expect("node")
    }

    #[test]
    fn capacity_table() {
        let nodes = vec![node(None, false), node(Some("2"), false), node(Some("8"), true)];
        for (count, ok) in [(1, true), (2, true), (3, false), (8, false)] {
            let result = check_gpu_capacity(&nodes, count);
            assert_eq!(result.is_ok(), ok, "count {count}");
            if let Err(e) = result {
                assert_eq!(e.code(), tonic::Code::FailedPrecondition);
                assert!(e.to_string().contains("most on one node is 2"), "{e}");
            }
        }
        assert!(check_gpu_capacity(&[], 1).is_err());
    }
}
