//! Tier 1: the tests of `capacity`.

use super::*;
use serde_json::json;

fn node(gpus: Option<&str>, unschedulable: bool) -> Node {
    let mut alloc = json!({"cpu": "8"});
    if let Some(g) = gpus {
        alloc[GPU_RESOURCE] = json!(g);
    }
    serde_json::from_value(json!({
        "metadata": {"name": "n"}, "spec": {"unschedulable": unschedulable},
        "status": {"allocatable": alloc}
    }))
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
    assert!(check_gpu_capacity(&Vec::<Node>::new(), 1).is_err());
}
