//! Tier 4 on OpenShift's rules: a tier started with `E2E_OPENSHIFT=1` (hack/test-e2e.sh runs one
//! after the plain tier), where OpenShift's own SCC admission decides every pod. The real
//! supervisor must start under what the SCC mutates: the namespace's UID range, its MCS level,
//! RuntimeDefault seccomp and the SCC's capability list.

use crate::common::openshift::allocation_now;
use crate::tier4::*;

#[test]
#[ignore = "tier 4 on OpenShift: needs the real node started with E2E_OPENSHIFT=1 (make test-e2e)"]
fn openshift_mode_sandbox_is_admitted_by_the_real_scc_and_runs_the_real_supervisor() {
    assert_eq!(
        std::env::var("E2E_OPENSHIFT").as_deref(),
        Ok("1"),
        "not an OpenShift tier: start it with E2E_OPENSHIFT=1 hack/e2e/up.sh"
    );
    let tier = Tier4::start_openshift("service-account");
    let allocation = allocation_now(&tier.cluster, &tier.namespace).expect("allocated namespace");
    tier.create("ocp", &var("E2E_AGENT_IMAGE"), &["--env", "FOO=on-openshift"]);
    let took = tier.wait_ready("ocp");
    eprintln!("openshift: create to Ready through the gateway in {took:?}");

    let pod = tier.cluster.kubectl(
        &[
            "-n",
            &tier.namespace,
            "get",
            "pod",
            &Tier4::object_name("ocp"),
            "-o",
            "json",
        ],
        None,
    );
    let pod: serde_json::Value = serde_json::from_str(&pod).expect("pod json");
    let scc = format!("openshell-sandbox-{}", tier.namespace);
    assert_eq!(
        pod["metadata"]["annotations"]["openshift.io/scc"], scc,
        "admitted under the driver's SCC"
    );
    let security = &pod["spec"]["securityContext"];
    assert_eq!(
        security["seLinuxOptions"]["level"], allocation.mcs,
        "the SCC gave the namespace's MCS level"
    );
    assert_eq!(
        security["fsGroup"].to_string(),
        allocation.gid,
        "fsGroup from the range"
    );

    // The agent runs as the namespace's first UID and GID, with the create's environment.
    let out = tier.exec("ocp", "echo FOO=$FOO; echo uid=$(id -u) gid=$(id -g)");
    assert!(out.status.success(), "exec: {}\n{}", text(&out), tier.logs());
    let printed = stdout_of(&out);
    assert!(printed.contains("FOO=on-openshift"), "{printed}");
    let ids = format!("uid={} gid={}", allocation.uid, allocation.gid);
    assert!(printed.contains(&ids), "want {ids}: {printed}");

    tier.delete_and_check_clean("ocp");
}
