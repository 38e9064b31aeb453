//! GPU capacity check for ValidateSandboxCreate: pure over a node list.

use k8s_openapi::api::core::v1::Node;

use crate::error::DriverError;
use crate::grammar::parse_quantity;
use crate::kubernetes::render::GPU_RESOURCE;

/// Allocatable GPUs of a node, or 0 when it is cordoned or has none.
fn schedulable_gpus(node: &Node) -> u64 {
    if node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false) {
        return 0;
    }
    allocatable_gpus(node)
}

/// The node's allocatable GPUs (0 when it has none or the quantity is unreadable).
pub fn allocatable_gpus(node: &Node) -> u64 {
    node.status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get(GPU_RESOURCE))
        .and_then(|q| parse_quantity(&q.0))
        .map_or(0, |v| v.max(0.0) as u64)
}

/// FAILED_PRECONDITION unless some schedulable node can hold `count` GPUs.
pub fn check_gpu_capacity<'a>(nodes: impl IntoIterator<Item = &'a Node>, count: u32) -> Result<(), DriverError> {
    let largest = nodes.into_iter().map(schedulable_gpus).max().unwrap_or(0);
    if largest >= u64::from(count) {
        Ok(())
    } else {
        Err(DriverError::FailedPrecondition(format!(
            "no schedulable node has {count} allocatable {GPU_RESOURCE} (the most on one node is {largest})"
        )))
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
