//! Tier 4: real containers. The real OpenShell gateway (mTLS, sandbox JWTs, Kubernetes
//! ServiceAccount verification), the real CLI and the real supervisor, on a real kubelet node,
//! with this driver in between. `make test-e2e` starts the node (hack/e2e/up.sh) and runs this
//! file inside the tier's network namespace (hack/e2e/run.sh); nothing here is reachable from
//! the host network.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "e2e/tier4.rs"]
mod tier4;

#[path = "e2e/openshift.rs"]
mod openshift;

#[path = "e2e/upstream.rs"]
mod upstream;

#[path = "e2e/warm.rs"]
mod warm;

#[path = "e2e/warm_race.rs"]
mod warm_race;

#[path = "e2e/workspace.rs"]
mod workspace;

use tier4::*;

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn service_account_identity_lifecycle_through_the_real_gateway() {
    let mut tier = Tier4::start("service-account");
    let agent = var("E2E_AGENT_IMAGE");
    tier.create("e2e", &agent, &["--env", "FOO=from-create"]);
    let took = tier.wait_ready("e2e");
    eprintln!("e2e: create to Ready through the gateway in {took:?}");
    let gateway = tier.log("gateway");
    assert!(
        gateway.contains("validated K8s SA token via TokenReview"),
        "{}",
        tier.logs()
    );
    assert!(gateway.contains("supervisor session: accepted"), "{}", tier.logs());

    // User environment reaches exec children, which run as the sandbox user.
    let out = tier.exec("e2e", "echo FOO=$FOO; id -u");
    assert!(out.status.success(), "exec: {}", text(&out));
    let printed = stdout_of(&out);
    assert!(printed.contains("FOO=from-create"), "{printed}");
    assert!(
        printed.lines().any(|l| l.trim() == "1000"),
        "runs as uid 1000: {printed}"
    );

    // Stop really stops; Start brings the same sandbox back.
    let id = tier.sandbox("e2e").expect("sandbox")["id"].clone();
    let out = tier.cli(&["sandbox", "stop", "e2e"]);
    assert!(out.status.success(), "stop: {}", text(&out));
    wait_for(READY_WITHIN, "the pod gone after stop", || {
        tier.kubectl_get("pod", "default--e2e").is_none()
    });
    let out = tier.cli(&["sandbox", "start", "e2e"]);
    assert!(out.status.success(), "start: {}", text(&out));
    tier.wait_ready("e2e");
    assert_eq!(tier.sandbox("e2e").expect("sandbox")["id"], id, "the same sandbox");

    // Restarts under a running system: still Ready, listed once.
    tier.restart_driver();
    std::thread::sleep(Duration::from_secs(3));
    tier.wait_ready("e2e");
    tier.restart_gateway();
    tier.wait_ready("e2e");
    let listed = tier.names_listed();
    assert_eq!(listed.iter().filter(|n| *n == "e2e").count(), 1, "{listed:?}");
    let out = tier.exec("e2e", "echo alive");
    assert!(stdout_of(&out).contains("alive"), "exec after restarts: {}", text(&out));

    tier.delete_and_check_clean("e2e");
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn a_sandbox_that_cannot_start_says_why_at_once() {
    let tier = Tier4::start("service-account");
    // Not on the node, and never pulled (imagePullPolicy: Never).
    let started = Instant::now();
    let mut args = vec![
        "sandbox",
        "create",
        "--name",
        "absent",
        "--from",
        "openshell-e2e/absent:1",
        "--no-tty",
    ];
    args.extend_from_slice(&["--detach", "--", "sleep", "infinity"]);
    let out = tier.cli(&args);
    let said = text(&out);
    let took = started.elapsed();
    assert!(!out.status.success(), "create fails: {said}");
    assert!(
        said.contains("ErrImageNeverPull"),
        "the kubelet's reason reaches the CLI: {said}"
    );
    assert!(
        took < Duration::from_secs(30),
        "at once, not at the CLI's timeout: {took:?}"
    );
    eprintln!("absent image: create failed after {took:?}");
    assert_eq!(tier.phase("absent"), "Error");
    // A name the runtime refuses (upper case is not a valid repository).
    let mut args = vec![
        "sandbox",
        "create",
        "--name",
        "badname",
        "--from",
        "openshell-e2e/Bad:1",
        "--no-tty",
    ];
    args.extend_from_slice(&["--detach", "--", "sleep", "infinity"]);
    let out = tier.cli(&args);
    assert!(!out.status.success(), "create fails: {}", text(&out));
    assert!(
        text(&out).contains("InvalidImageName") || text(&out).to_lowercase().contains("invalid"),
        "{}",
        text(&out)
    );
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn managed_workspaces_get_the_sandbox_service_account_the_gateway_accepts() {
    let tier = Tier4::start_with("service-account", true);
    tier.create("managed", &var("E2E_AGENT_IMAGE"), &["--env", "FOO=ws"]);
    tier.wait_ready("managed");
    assert!(
        tier.log("gateway").contains("validated K8s SA token via TokenReview"),
        "{}",
        tier.logs()
    );
    let workspace_ns = format!("openshell-{}-default", tier.namespace);
    let sa = tier.cluster.kubectl(
        &[
            "-n",
            &workspace_ns,
            "get",
            "pod",
            "managed",
            "-o",
            "jsonpath={.spec.serviceAccountName}",
        ],
        None,
    );
    assert_eq!(sa, "openshell-sandbox");
    let out = tier.exec("managed", "echo FOO=$FOO");
    assert!(stdout_of(&out).contains("FOO=ws"), "{}", text(&out));
    assert!(tier.cli(&["sandbox", "delete", "managed"]).status.success());
    let _ = tier
        .cluster
        .try_kubectl(&["delete", "namespace", &workspace_ns, "--wait=false"], None);
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn token_file_identity_reaches_ready_and_execs() {
    let tier = Tier4::start("token-file");
    tier.create("tokenfile", &var("E2E_AGENT_IMAGE"), &["--env", "FOO=bar"]);
    tier.wait_ready("tokenfile");
    assert!(
        tier.kubectl_get("secret", "default--tokenfile-openshell-token")
            .is_some(),
        "the gateway's token lives in its own Secret"
    );
    let out = tier.exec("tokenfile", "echo FOO=$FOO");
    assert!(stdout_of(&out).contains("FOO=bar"), "{}", text(&out));
    tier.delete_and_check_clean("tokenfile");
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn an_image_cannot_choose_what_its_sandbox_enforces() {
    let mut tier = Tier4::start("service-account");
    // An agent image whose own ENV points the supervisor at a local policy (and other settings).
    let hostile = "openshell-e2e/agent:hostile";
    run(Command::new(var("E2E_IMAGE_SH")).args([
        "--from",
        &var("E2E_AGENT_IMAGE"),
        "--env",
        "OPENSHELL_POLICY_RULES=/etc/hostile/policy.rego",
        "--env",
        "OPENSHELL_POLICY_DATA=/etc/hostile/policy.yaml",
        "--env",
        "OPENSHELL_LOG_LEVEL=trace",
        "--env",
        "OPENSHELL_TLS_CA=/etc/hostile/ca.crt",
        "--env",
        "OPENSHELL_NETWORK_BINARY_IDENTITY=relaxed",
        hostile,
    ]));
    tier.create("hostile", hostile, &[]);
    let check = |tier: &Tier4| {
        tier.wait_ready("hostile");
        let sandbox = tier.sandbox("hostile").expect("sandbox");
        assert!(
            sandbox["current_policy_version"].as_u64().is_some_and(|v| v >= 1),
            "the supervisor took and reported the gateway's policy: {sandbox}"
        );
        // Had the image's settings reached the supervisor, it would have loaded the image's
        // (missing) policy files and exited; it runs, under the gateway's policy.
        let out = tier.exec("hostile", "touch /tmp/probe && echo tmp-writable");
        assert!(stdout_of(&out).contains("tmp-writable"), "{}", text(&out));
        let log = tier.pod_log("hostile");
        assert!(
            log.contains("OPENSHELL_NETWORK_BINARY_IDENTITY, OPENSHELL_POLICY_DATA, OPENSHELL_POLICY_RULES"),
            "the launcher removed exactly the unrendered settings: {log}"
        );
    };
    check(&tier);
    let gateway = tier.log("gateway");
    assert!(
        gateway.contains("ReportPolicyStatus") && gateway.contains("UpdateConfig"),
        "{}",
        tier.logs()
    );
    tier.restart_driver();
    check(&tier);
    assert!(tier.cli(&["sandbox", "stop", "hostile"]).status.success());
    wait_for(READY_WITHIN, "the pod gone after stop", || {
        tier.kubectl_get("pod", "default--hostile").is_none()
    });
    assert!(tier.cli(&["sandbox", "start", "hostile"]).status.success());
    check(&tier);
    tier.delete_and_check_clean("hostile");
}

#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn both_supervisor_deliveries_run_the_real_supervisor() {
    for (sideload, init_containers) in [("image-volume", 0), ("init-container", 2)] {
        let tier = Tier4::start_opts("service-account", false, &["--supervisor-sideload", sideload]);
        let name = format!("sideload-{}", &sideload[..4]);
        tier.create(&name, &var("E2E_AGENT_IMAGE"), &[]);
        tier.wait_ready(&name);
        let out = tier.exec(&name, "echo alive; id -u");
        assert!(stdout_of(&out).contains("alive"), "{sideload}: exec {}", text(&out));
        let pod = tier.cluster.kubectl(
            &[
                "-n",
                &tier.namespace,
                "get",
                "pod",
                &Tier4::object_name(&name),
                "-o",
                "json",
            ],
            None,
        );
        let pod: serde_json::Value = serde_json::from_str(&pod).expect("pod json");
        let inits = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
        assert_eq!(inits, init_containers, "{sideload}: {pod}");
        let images = pod["spec"]["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .filter(|v| v.get("image").is_some())
            .count();
        assert_eq!(
            images,
            2 - init_containers,
            "{sideload}: the supervisor's and the launcher's images"
        );
        // The supervisor is PID 1 of the agent container, from where this delivery puts it.
        let pid1 = tier.cluster.kubectl(
            &[
                "-n",
                &tier.namespace,
                "exec",
                &Tier4::object_name(&name),
                "-c",
                "agent",
                "--",
                "cat",
                "/proc/1/cmdline",
            ],
            None,
        );
        let want = if init_containers == 0 {
            "/opt/openshell/bin/supervisor/openshell-sandbox"
        } else {
            "/opt/openshell/bin/openshell-sandbox"
        };
        assert!(pid1.starts_with(want), "{sideload}: PID 1 is {pid1:?}");
        tier.delete_and_check_clean(&name);
    }
}

/// `--topology sidecar` on the real node: network-init loads the pod's bypass rules, the network
/// supervisor holds the session, and the agent container runs the process supervisor as the
/// sandbox user, with nothing added to its capabilities.
#[test]
#[ignore = "tier 4: needs the real node (make test-e2e)"]
fn the_sidecar_topology_runs_the_real_network_supervisor() {
    let tier = Tier4::start_opts("service-account", false, &["--topology", "sidecar"]);
    tier.create("sidecar", &var("E2E_AGENT_IMAGE"), &["--env", "E2E_MARK=sidecar"]);
    tier.wait_ready("sidecar");
    let out = tier.exec("sidecar", "echo \"$E2E_MARK\"; id -u");
    let stdout = stdout_of(&out);
    assert!(
        stdout.contains("sidecar\n1000"),
        "exec as the sandbox user: {}",
        text(&out)
    );
    let object = Tier4::object_name("sidecar");
    let pod = tier
        .cluster
        .kubectl(&["-n", &tier.namespace, "get", "pod", &object, "-o", "json"], None);
    let pod: serde_json::Value = serde_json::from_str(&pod).expect("pod json");
    let state_of = |list: &str, name: &str| {
        pod["status"][list]
            .as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == name))
            .map(|c| c["state"].clone())
            .unwrap_or_else(|| panic!("{name} in {list}: {pod}"))
    };
    let init = state_of("initContainerStatuses", "openshell-network-init");
    assert_eq!(init["terminated"]["exitCode"], 0, "network-init: {init}");
    assert!(state_of("containerStatuses", "openshell-supervisor-network")["running"].is_object());
    let agent = pod["spec"]["containers"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "agent"))
        .expect("agent container");
    assert_eq!(agent["securityContext"]["runAsNonRoot"], true, "{agent}");
    assert_eq!(agent["securityContext"]["capabilities"]["drop"][0], "ALL", "{agent}");
    // The pod shares one process namespace (PID 1 is the pause process): both supervisors are
    // visible from the agent container, each in its own mode.
    let script = r#"for p in /proc/[0-9]*; do tr '\0' ' ' <"$p/cmdline"; echo; done"#;
    let processes = tier.cluster.kubectl(
        &[
            "-n",
            &tier.namespace,
            "exec",
            &object,
            "-c",
            "agent",
            "--",
            "sh",
            "-c",
            script,
        ],
        None,
    );
    for mode in ["--mode=process", "--mode=network"] {
        assert!(
            processes
                .lines()
                .any(|l| l.contains("openshell-sandbox") && l.contains(mode)),
            "a supervisor in {mode}: {processes}"
        );
    }
    tier.delete_and_check_clean("sidecar");
}

/// Milliseconds between two instants.
fn ms(from: Instant, to: Instant) -> f64 {
    to.duration_since(from).as_secs_f64() * 1000.0
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The driver's own latency of each successful CreateSandbox, from its JSON log lines.
fn create_latencies(driver_log: &str) -> Vec<f64> {
    driver_log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["rpc"] == "CreateSandbox" && l["code"] == "Ok")
        .filter_map(|l| l["latency_ms"].as_f64())
        .collect()
}

/// Create → Ready through the real gateway, p50 over 10 sandboxes, split into the driver's
/// create call, the pod scheduled, the agent container started and the supervisor's session
/// (phase Ready). A benchmark: it prints and records, it asserts nothing about speed.
#[test]
#[ignore = "benchmark: make bench-e2e"]
fn bench_create_to_ready() {
    let mut report = serde_json::Map::new();
    for sideload in ["image-volume", "init-container"] {
        report.insert(sideload.into(), bench_one(sideload));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-e2e.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).expect("json")).expect("write");
    println!("written to {}", out.display());
}

/// One delivery's 10 sandboxes: the table printed, the numbers returned.
fn bench_one(sideload: &str) -> serde_json::Value {
    let tier = Tier4::start_opts("service-account", false, &["--supervisor-sideload", sideload]);
    let agent = var("E2E_AGENT_IMAGE");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let kube = runtime.block_on(tier.cluster.client());
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(kube, &tier.namespace);
    let (mut scheduled, mut started, mut ready, mut cli) = (vec![], vec![], vec![], vec![]);
    for i in 0..10 {
        let name = format!("bench{i}");
        let object = Tier4::object_name(&name);
        let t0 = Instant::now();
        // The CLI waits for the sandbox; the pod is watched meanwhile.
        let mut create = Command::new(bin_dir().join("openshell"))
            .args([
                "-g", "e2e", "sandbox", "create", "--name", &name, "--from", &agent, "--no-tty", "--detach",
            ])
            .args(["--", "sleep", "infinity"])
            .env("XDG_CONFIG_HOME", tier.dir.path().join("cli"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cli runs");
        let (mut t_sched, mut t_start, mut t_cli) = (None, None, None);
        while (t_start.is_none() || t_cli.is_none()) && t0.elapsed() < READY_WITHIN {
            if t_cli.is_none() && create.try_wait().expect("cli").is_some() {
                t_cli = Some(Instant::now());
            }
            if let Some(pod) = runtime.block_on(pods.get_opt(&object)).ok().flatten() {
                if t_sched.is_none() && pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                    t_sched = Some(Instant::now());
                }
                let running = pod
                    .status
                    .and_then(|s| s.container_statuses)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.name == "agent" && c.state.as_ref().and_then(|s| s.running.as_ref()).is_some());
                if running && t_start.is_none() {
                    t_start = Some(Instant::now());
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = create.wait().expect("cli exits");
        assert!(status.success(), "create {name}\n{}", tier.logs());
        let t_cli = t_cli.unwrap_or_else(Instant::now);
        tier.wait_ready(&name);
        let t_ready = Instant::now();
        let t_start = t_start.expect("container started");
        cli.push(ms(t0, t_cli));
        scheduled.push(ms(t0, t_sched.unwrap_or(t_start)));
        started.push(ms(t0, t_start));
        ready.push(ms(t0, t_ready));
    }
    let driver_create = create_latencies(&tier.log("driver"));
    let rows = [
        (
            "driver CreateSandbox call (its own latency)",
            p50(driver_create.clone()),
        ),
        ("CLI create returned", p50(cli)),
        ("pod scheduled", p50(scheduled)),
        ("agent container started", p50(started)),
        ("phase Ready (supervisor session open)", p50(ready.clone())),
    ];
    println!("\n| --supervisor-sideload {sideload}: create → step, p50 over 10 sandboxes | ms |\n|---|---|");
    for (what, v) in rows {
        println!("| {what} | {v:.0} |");
    }
    serde_json::json!({
        "samples": 10,
        "p50_ms": rows.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        "ready_ms": ready,
        "driver_create_ms": driver_create,
    })
}
