//! Tier 4: the persistent workspace (issue #12 item 9) on the real node. The claim binds a
//! hostPath PersistentVolume of the test's class (what a provisioner would make); the launcher
//! seeds it from the agent image in `workspace-init`; what the agent writes in /sandbox is there
//! again after stop and start, on a new pod; delete removes the claim.

use std::time::Duration;

use super::tier4::*;

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn the_workspace_keeps_the_agents_files_across_stop_and_start() {
    let class = format!("e2e-ws-{}", free_port());
    let tier = Tier4::start_opts(
        "service-account",
        false,
        &[
            "--workspace-volume",
            "persistent",
            "--workspace-storage-class",
            &class,
            "--workspace-size",
            "1Gi",
        ],
    );
    tier.hostpath_volume(&class, &class);
    tier.create("ws", &var("E2E_AGENT_IMAGE"), &[]);
    tier.wait_ready("ws");
    // Seeded from the image (its /sandbox is owned by the sandbox user, 1000), then the agent's.
    let out = tier.exec(
        "ws",
        "grep -c ' /sandbox ' /proc/mounts; stat -c %u /sandbox; ls -A /sandbox; echo kept-$$ > /sandbox/note; cat /sandbox/note",
    );
    let first = stdout_of(&out);
    let lines: Vec<&str> = first.lines().map(str::trim).collect();
    assert_eq!(lines.first(), Some(&"1"), "/sandbox is a mount: {}", text(&out));
    assert_eq!(lines.get(1), Some(&"1000"), "owned as in the image: {}", text(&out));
    assert!(lines.contains(&".workspace-initialized"), "seeded: {}", text(&out));
    let note = lines.last().expect("the note").to_string();
    assert!(note.starts_with("kept-"), "{first}");
    let seed_log = seed_log_of(&tier);
    assert!(seed_log.contains("seeded the workspace from /sandbox"), "{seed_log}");

    let out = tier.cli(&["sandbox", "stop", "ws"]);
    assert!(out.status.success(), "stop: {}", text(&out));
    wait_for(READY_WITHIN, "the pod gone after stop", || {
        tier.kubectl_get("pod", &Tier4::object_name("ws")).is_none()
    });
    let out = tier.cli(&["sandbox", "start", "ws"]);
    assert!(out.status.success(), "start: {}", text(&out));
    tier.wait_ready("ws");
    let out = tier.exec("ws", "cat /sandbox/note");
    assert_eq!(stdout_of(&out).trim(), note, "the file survived: {}", text(&out));
    let seed_log = seed_log_of(&tier);
    assert!(seed_log.contains("already seeded"), "no second copy: {seed_log}");

    let claim = format!("workspace-{}", Tier4::object_name("ws"));
    tier.delete_and_check_clean("ws");
    wait_for(
        Duration::from_secs(60),
        "the workspace claim deleted with the sandbox",
        || tier.kubectl_get("pvc", &claim).is_none(),
    );
    let _ = tier
        .cluster
        .try_kubectl(&["delete", "pv", &class, "--wait=false"], None);
}

/// What `workspace-init` printed on the sandbox's current pod.
fn seed_log_of(tier: &Tier4) -> String {
    let pod = Tier4::object_name("ws");
    let args = [
        "-n",
        tier.namespace.as_str(),
        "logs",
        pod.as_str(),
        "-c",
        "workspace-init",
    ];
    tier.cluster.try_kubectl(&args, None).unwrap_or_default()
}
