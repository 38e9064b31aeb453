use kube::api::{ApiResource, DynamicObject};
use kube::runtime::watcher::Event;
use serde_json::json;

use super::*;
use crate::config::warm_pool::parse_profiles;
use crate::kubernetes::identity::LABEL_SANDBOX_ID;

fn entry(name: &str, key: &str, size: u32) -> PoolEntry {
    let text = format!("profiles:\n  - {{name: {name}, size: {size}, template: {{image: 'i:1'}}}}\n");
    PoolEntry {
        profile: parse_profiles(&text).expect("profile").remove(0),
        key: key.into(),
        namespace: "ns".into(),
    }
}

/// A member Sandbox (`ready`: its Ready condition); `bound` gives it a sandbox id.
fn sandbox(name: &str, key: &str, ready: bool, bound: bool, claimed: bool) -> DynamicObject {
    let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let mut obj = DynamicObject::new(name, &resource).within("ns");
    let mut labels = std::collections::BTreeMap::from([
        (LABEL_WARM_KEY.to_string(), key.to_string()),
        (LABEL_WARM_PROFILE.to_string(), "py".to_string()),
    ]);
    if bound {
        labels.insert(LABEL_SANDBOX_ID.into(), "sb-1".into());
    }
    obj.metadata.labels = Some(labels);
    obj.metadata.uid = Some(format!("uid-{name}"));
    obj.metadata.resource_version = Some("7".into());
    if claimed {
        obj.metadata.annotations = Some([(BIND_INTENT_ANNOTATION.to_string(), "sb-0".to_string())].into());
    }
    let status = if ready { "True" } else { "False" };
    obj.data = json!({"status": {"conditions": [{"type": "Ready", "status": status}]}});
    obj
}

/// `obj`, Ready since `at` (RFC 3339).
fn ready_since(mut obj: DynamicObject, at: &str) -> DynamicObject {
    obj.data = json!({"status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": at}]}});
    obj
}

fn listed(pool: &Pool, objects: Vec<DynamicObject>) {
    pool.observe(&Event::Init);
    for obj in objects {
        pool.observe(&Event::InitApply(obj));
    }
    pool.observe(&Event::InitDone);
}

#[test]
fn a_bind_takes_a_ready_member_of_its_key_and_never_the_same_one_twice() {
    let pool = Pool::new(vec![entry("py", "k1", 3)]);
    assert!(!pool.synced());
    listed(
        &pool,
        vec![
            sandbox("warm-a", "k1", true, false, false),
            sandbox("warm-b", "k1", false, false, false),
            sandbox("warm-c", "k2", true, false, false),
            sandbox("bound", "k1", true, true, false),
            sandbox("claimed", "k1", true, false, true),
        ],
    );
    assert!(pool.synced());
    assert_eq!(pool.take("k1").map(|m| m.name), Some("warm-a".into()));
    assert_eq!(
        pool.take("k1"),
        None,
        "warm-b is not ready; a taken one is never handed out again"
    );
    pool.observe(&Event::Apply(sandbox("warm-b", "k1", true, false, false)));
    assert_eq!(pool.take("k1").map(|m| m.name), Some("warm-b".into()));
    assert_eq!(pool.take("k3"), None);
}

#[test]
fn a_bind_takes_the_member_ready_the_longest() {
    let pool = Pool::new(vec![entry("py", "k1", 4)]);
    listed(
        &pool,
        vec![
            sandbox("warm-a", "k1", true, false, false),
            ready_since(sandbox("warm-b", "k1", true, false, false), "2026-12-03T12:00:05Z"),
            ready_since(sandbox("warm-c", "k1", true, false, false), "2026-12-03T12:00:01Z"),
            ready_since(sandbox("warm-d", "k1", true, false, false), "2026-12-03T12:00:01Z"),
        ],
    );
    let order: Vec<_> = std::iter::from_fn(|| pool.take("k1").map(|m| m.name)).collect();
    assert_eq!(
        order,
        ["warm-c", "warm-d", "warm-b", "warm-a"],
        "oldest first, ties by name, no time last"
    );
}

#[test]
fn what_each_profile_lacks_and_what_must_go() {
    let pool = Pool::new(vec![entry("py", "k1", 3), entry("go", "k9", 1)]);
    listed(
        &pool,
        vec![
            sandbox("warm-a", "k1", true, false, false),
            sandbox("warm-b", "k1", false, false, false),
            sandbox("old-key", "k2", true, false, false),
            sandbox("half-bound", "k1", true, false, true),
        ],
    );
    assert_eq!(
        pool.missing(),
        [(0, 1), (1, 1)],
        "starting members count; claimed ones do not"
    );
    let mut gone: Vec<String> = pool.to_remove().into_iter().map(|m| m.name).collect();
    gone.sort();
    assert_eq!(gone, ["half-bound", "old-key"]);
    assert_eq!(pool.counts("py"), Counts { ready: 2, starting: 1 }, "by profile label");
    // Taken by a bind: no longer counted, so the reconciler makes another.
    pool.take("k1");
    assert_eq!(pool.missing(), [(0, 2), (1, 1)]);
}

#[test]
fn a_bound_or_deleted_member_leaves_the_pool_and_a_relist_forgets_what_is_gone() {
    let pool = Pool::new(vec![entry("py", "k1", 2)]);
    listed(
        &pool,
        vec![
            sandbox("warm-a", "k1", true, false, false),
            sandbox("warm-b", "k1", true, false, false),
        ],
    );
    pool.observe(&Event::Apply(sandbox("warm-a", "k1", true, true, false)));
    pool.observe(&Event::Delete(sandbox("warm-b", "k1", true, false, false)));
    assert_eq!(pool.missing(), [(0, 2)]);
    listed(&pool, vec![sandbox("warm-c", "k1", true, false, false)]);
    assert_eq!(pool.missing(), [(0, 1)]);
    assert_eq!(pool.take("k1").map(|m| m.name), Some("warm-c".into()));
}
