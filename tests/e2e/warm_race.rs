//! Tier 4: concurrent creates for one profile on the real node (issue #18). Twenty creates
//! through the real CLI at once, on ten ready members: every member is bound by one create
//! at most, all ten are bound, the others start cold (each logging why), and all twenty reach
//! Ready.

use super::tier4::*;
use super::warm::{bound_member, delete, ready_members, sandbox_id, warm_tier_of};

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn twenty_concurrent_creates_on_ten_members_bind_each_member_once() {
    const MEMBERS: usize = 10;
    const CREATES: usize = 20;
    let tier = warm_tier_of("service-account", MEMBERS as u32);
    let mut before = Vec::new();
    wait_for(READY_WITHIN, "ten ready members", || {
        before = ready_members(&tier);
        before.len() >= MEMBERS
    });
    let image = var("E2E_AGENT_IMAGE");
    let names: Vec<String> = (0..CREATES).map(|i| format!("race{i}")).collect();
    // Each `sandbox create` returns once its sandbox is Ready.
    std::thread::scope(|s| {
        for name in &names {
            let (tier, image) = (&tier, &image);
            s.spawn(move || tier.create(name, image, &[]));
        }
    });
    let objects: Vec<String> = names
        .iter()
        .map(|name| {
            assert_eq!(tier.phase(name), "Ready", "{name}\n{}", tier.logs());
            bound_member(&tier, &sandbox_id(&tier, name))
        })
        .collect();
    let mut warm: Vec<&String> = objects.iter().filter(|o| o.starts_with("warm-")).collect();
    let cold = objects.iter().filter(|o| o.starts_with("default--race")).count();
    assert_eq!(warm.len() + cold, CREATES, "each create is warm or cold: {objects:?}");
    let bound = warm.len();
    warm.sort();
    warm.dedup();
    assert_eq!(warm.len(), bound, "no member bound twice: {objects:?}");
    for member in &before {
        assert!(
            objects.contains(member),
            "every ready member bound: {member} in {objects:?}"
        );
    }
    eprintln!("{CREATES} concurrent creates on {MEMBERS} members: {bound} warm, {cold} cold");
    std::thread::scope(|s| {
        for name in &names {
            let tier = &tier;
            s.spawn(move || delete(tier, name));
        }
    });
}
