//! Tier 4: a warm pool member on the real node (issue #18). The member's pod starts with the
//! launcher waiting and no sandbox; the real CLI's create binds it; the kubelet delivers the
//! identity Secret and the pod's new annotation; the launcher execs the real supervisor, which
//! authenticates to the real gateway (the ServiceAccount check reads the late-written annotation
//! and label live) and opens its session. Then the pool refills, and delete leaves nothing.

use std::time::{Duration, Instant};

use super::tier4::*;

const PROFILE: &str = "e2e";

fn unbound_selector() -> String {
    format!("openshell.ai/warm-profile={PROFILE},!openshell.ai/sandbox-id")
}

/// Names of the Ready unbound members.
fn ready_members(tier: &Tier4) -> Vec<String> {
    let jsonpath = r#"{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#;
    let out = tier
        .cluster
        .try_kubectl(
            &[
                "-n",
                &tier.namespace,
                "get",
                "sandboxes",
                "-l",
                &unbound_selector(),
                "-o",
                &format!("jsonpath={jsonpath}"),
            ],
            None,
        )
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(_, ready)| *ready == "True")
        .map(|(name, _)| name.to_string())
        .collect()
}

fn warm_tier(auth: &str) -> Tier4 {
    let dir = std::path::PathBuf::from(var("E2E_DIR"));
    let path = dir.join(format!("warm-pool-{auth}.yaml"));
    let profile = format!(
        "profiles:\n  - name: {PROFILE}\n    size: 1\n    template:\n      image: {}\n",
        var("E2E_AGENT_IMAGE")
    );
    std::fs::write(&path, profile).expect("the profile file");
    Tier4::start_opts(auth, false, &["--warm-pool-config", &path.to_string_lossy()])
}

fn a_create_binds_a_warm_member(auth: &str) {
    let tier = warm_tier(auth);
    let mut members = Vec::new();
    wait_for(READY_WITHIN, "a ready warm member", || {
        members = ready_members(&tier);
        !members.is_empty()
    });
    assert!(
        tier.names_listed().is_empty(),
        "members are not sandboxes to the gateway"
    );
    let started = Instant::now();
    tier.create("warm1", &var("E2E_AGENT_IMAGE"), &[]);
    tier.wait_ready("warm1");
    let to_ready = started.elapsed();
    let id = tier
        .sandbox("warm1")
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let bound = tier.cluster.kubectl(
        &[
            "-n",
            &tier.namespace,
            "get",
            "sandboxes",
            "-l",
            &format!("openshell.ai/sandbox-id={id}"),
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        None,
    );
    assert!(
        members.contains(&bound.trim().to_string()),
        "bound to a member {members:?}, got {bound:?}\n{}",
        tier.logs()
    );
    let log = tier
        .cluster
        .try_kubectl(&["-n", &tier.namespace, "logs", bound.trim(), "-c", "agent"], None)
        .unwrap_or_default();
    assert!(
        log.contains(&format!("bound to sandbox {id}")),
        "the launcher waited, then started the supervisor: {log}"
    );
    let out = tier.exec("warm1", "echo exec-ok; id -u");
    assert!(stdout_of(&out).contains("exec-ok"), "exec: {}", text(&out));
    eprintln!("warm ({auth}): create to Ready {to_ready:?}");

    wait_for(READY_WITHIN, "the pool refilled", || {
        ready_members(&tier).iter().any(|m| m != bound.trim())
    });
    let out = tier.cli(&["sandbox", "delete", "warm1"]);
    assert!(out.status.success(), "delete: {}", text(&out));
    wait_for(READY_WITHIN, "the bound member and its Secrets gone", || {
        tier.kubectl_get("sandbox", bound.trim()).is_none()
            && tier
                .kubectl_get("secret", &format!("{}-identity", bound.trim()))
                .is_none()
    });
    wait_for(Duration::from_secs(30), "gone from the CLI", || {
        tier.names_listed().is_empty()
    });
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn warm_service_account_identity() {
    a_create_binds_a_warm_member("service-account");
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn warm_token_file_identity() {
    a_create_binds_a_warm_member("token-file");
}
