//! Tier 4: a warm pool member on the real node (issue #18). The member's pod starts with the
//! launcher waiting and no sandbox; the real CLI's create binds it; the kubelet delivers the
//! identity Secret and the pod's new annotation; the launcher execs the real supervisor, which
//! authenticates to the real gateway (the ServiceAccount check reads the late-written annotation
//! and label live) and opens its session. Then the pool refills, and delete leaves nothing.

use std::time::{Duration, Instant, SystemTime};

use super::tier4::*;

const PROFILE: &str = "e2e";

fn unbound_selector() -> String {
    format!("openshell.ai/warm-profile={PROFILE},!openshell.ai/sandbox-id")
}

/// Names of the Ready unbound members.
pub(super) fn ready_members(tier: &Tier4) -> Vec<String> {
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
    warm_tier_of(auth, 1)
}

pub(super) fn warm_tier_of(auth: &str, size: u32) -> Tier4 {
    let dir = std::path::PathBuf::from(var("E2E_DIR"));
    let path = dir.join(format!("warm-pool-{auth}-{size}.yaml"));
    let profile = format!(
        "profiles:\n  - name: {PROFILE}\n    size: {size}\n    template:\n      image: {}\n",
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
    tier.create("warm1", &var("E2E_AGENT_IMAGE"), &["--env", "WARM_GREETING=hello-late"]);
    tier.wait_ready("warm1");
    let to_ready = started.elapsed();
    let id = sandbox_id(&tier, "warm1");
    let bound = bound_member(&tier, &id);
    assert!(
        members.contains(&bound.clone()),
        "bound to a member {members:?}, got {bound:?}\n{}",
        tier.logs()
    );
    let log = tier
        .cluster
        .try_kubectl(&["-n", &tier.namespace, "logs", bound.as_str(), "-c", "agent"], None)
        .unwrap_or_default();
    assert!(
        log.contains(&format!("bound to sandbox {id}")),
        "the launcher waited, then started the supervisor: {log}"
    );
    // The create's environment, delivered at bind, is what exec sees.
    let out = tier.exec("warm1", "echo greeting=$WARM_GREETING");
    assert!(stdout_of(&out).contains("greeting=hello-late"), "exec: {}", text(&out));
    eprintln!("warm ({auth}): create to Ready {to_ready:?}");

    // Stop and start: a new pod from the bound template finds its identity at once.
    let member = bound.clone();
    let out = tier.cli(&["sandbox", "stop", "warm1"]);
    assert!(out.status.success(), "stop: {}", text(&out));
    wait_for(READY_WITHIN, "the pod gone after stop", || {
        tier.kubectl_get("pod", &member).is_none()
    });
    let out = tier.cli(&["sandbox", "start", "warm1"]);
    assert!(out.status.success(), "start: {}", text(&out));
    tier.wait_ready("warm1");
    let out = tier.exec("warm1", "echo greeting=$WARM_GREETING");
    assert!(
        stdout_of(&out).contains("greeting=hello-late"),
        "the same sandbox back: {}",
        text(&out)
    );
    let again = tier.sandbox("warm1").and_then(|s| s["id"].as_str().map(str::to_string));
    assert_eq!(again.as_deref(), Some(id.as_str()));

    wait_for(READY_WITHIN, "the pool refilled", || {
        ready_members(&tier).iter().any(|m| m != bound.as_str())
    });
    // Another image name: no profile has that pod, so it goes cold and the driver says why.
    let other = other_name(&var("E2E_AGENT_IMAGE"));
    tier.create("cold1", &other, &[]);
    let cold_id = sandbox_id(&tier, "cold1");
    assert_eq!(
        bound_member(&tier, &cold_id),
        Tier4::object_name("cold1"),
        "cold, named as cold"
    );
    assert!(
        tier.log("driver")
            .lines()
            .any(|l| l.contains("warm pool miss") && l.contains(&cold_id) && l.contains("no_profile")),
        "the miss says why\n{}",
        tier.logs()
    );
    delete(&tier, "cold1");
    let out = tier.cli(&["sandbox", "delete", "warm1"]);
    assert!(out.status.success(), "delete: {}", text(&out));
    wait_for(READY_WITHIN, "the bound member and its Secrets gone", || {
        tier.kubectl_get("sandbox", bound.as_str()).is_none()
            && tier
                .kubectl_get("secret", &format!("{}-identity", bound.as_str()))
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

/// `make bench-e2e`: create to Ready through the real CLI and gateway, 20 sandboxes bound to a
/// warm member (the pool full before each), 20 cold (the same image under another name, so no
/// profile matches) and 20 cold through upstream's driver (when `OPENSHELL_BIN_DIR` has it),
/// one after the other on one node. Warm is split by timestamps from the start of
/// `sandbox create`: until the driver had bound it (the CLI and gateway included; the bind's own
/// time beside it), until the kubelet took the pod's new metadata (the controller's patch),
/// until the launcher had the identity (the kubelet's volume delivery), until the gateway
/// accepted the supervisor's session (its start and authentication), and the rest to Ready (the
/// gateway's phase reaching the CLI's watch).
#[test]
#[ignore = "tier 4 benchmark: make bench-e2e"]
fn bench_warm_against_cold() {
    const RUNS: usize = 20;
    let tier = warm_tier_of("service-account", 2);
    let image = var("E2E_AGENT_IMAGE");
    let mut steps = WarmSteps::default();
    let mut cold = vec![];
    for i in 0..RUNS {
        wait_for(READY_WITHIN, "a full pool", || ready_members(&tier).len() >= 2);
        let name = format!("w{i}");
        let (t0, wall0) = (Instant::now(), SystemTime::now());
        // Without a terminal, `sandbox create --detach` returns once it has watched the
        // sandbox reach Ready, so its own run is create to Ready.
        tier.create(&name, &image, &[]);
        steps.ready.push(t0.elapsed());
        assert_eq!(tier.phase(&name), "Ready", "the CLI returned before Ready");
        let id = sandbox_id(&tier, &name);
        let member = bound_member(&tier, &id);
        assert!(member.starts_with("warm-"), "w{i} went cold: {member}");
        steps.record(&tier, wall0, &id, &member);
        if i + 1 == RUNS {
            // One member's own account of its start, for the steps after the launcher.
            let args = ["-n", &tier.namespace, "logs", &member, "-c", "agent", "--timestamps"];
            let log = tier.cluster.try_kubectl(&args, None).unwrap_or_default();
            println!(
                "the last warm member's log (create at {}):\n{log}",
                k8s_openapi::jiff::Timestamp::try_from(wall0)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            );
        }
        delete(&tier, &name);
    }
    // The same image by its short name: the same pod to the kubelet, another key to the pool.
    let cold_image = other_name(&image);
    assert_ne!(cold_image, image, "the cold image must be named differently");
    for i in 0..RUNS {
        let name = format!("c{i}");
        let t0 = Instant::now();
        tier.create(&name, &cold_image, &[]);
        cold.push(t0.elapsed());
        assert_eq!(tier.phase(&name), "Ready", "the CLI returned before Ready");
        delete(&tier, &name);
    }
    drop(tier);
    let (mut upstream, note) = if bin_dir().join("openshell-driver-kubernetes").exists() {
        let samples = upstream_cold(RUNS, &image);
        (
            samples,
            "upstream's driver as it always renders: shared mode, each sandbox with its workspace claim (a hostPath volume here) and workspace-init",
        )
    } else {
        (
            vec![],
            "upstream's driver (openshell-driver-kubernetes) is not in OPENSHELL_BIN_DIR: its row is empty",
        )
    };
    let rows = [
        ("warm: create to Ready", &mut steps.ready),
        ("  until the driver had bound it", &mut steps.bound),
        ("    of which the bind itself", &mut steps.bind),
        ("  until the kubelet saw the pod change", &mut steps.pod_updated),
        ("  until the launcher had the identity", &mut steps.delivered),
        ("  until the gateway took the session", &mut steps.session),
        ("cold: create to Ready", &mut cold),
        ("upstream's driver cold: create to Ready", &mut upstream),
    ];
    let mut report = serde_json::Map::new();
    println!(
        "\n{:<40} {:>9} {:>9} {:>4}",
        "step (service-account identity)", "p50 ms", "p99 ms", "n"
    );
    for (what, samples) in rows {
        samples.sort();
        let at = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q).round() as usize)
                .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        println!("{what:<40} {:>9.0} {:>9.0} {:>4}", at(0.5), at(0.99), samples.len());
        report.insert(
            what.trim().into(),
            serde_json::json!({"p50_ms": at(0.5), "p99_ms": at(0.99), "n": samples.len()}),
        );
    }
    println!("note: {note}");
    report.insert("note".into(), note.into());
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-e2e-warm.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).expect("json")).expect("write");
    println!("written to {}", out.display());
}

/// `runs` cold creates to Ready through upstream's driver behind the same gateway and CLI.
fn upstream_cold(runs: usize, image: &str) -> Vec<Duration> {
    let class = format!("e2e-up-{}", free_port());
    let tier = Tier4::start_upstream(&class);
    for i in 0..runs {
        tier.hostpath_volume(&class, &format!("{class}-{i}"));
    }
    (0..runs)
        .map(|i| {
            let name = format!("u{i}");
            let t0 = Instant::now();
            tier.create(&name, image, &[]);
            let took = t0.elapsed();
            assert_eq!(tier.phase(&name), "Ready", "the CLI returned before Ready");
            delete(&tier, &name);
            took
        })
        .collect()
}

/// The same image by its other name (with or without `docker.io/`): the same pod to the
/// kubelet, another key to the pool.
fn other_name(image: &str) -> String {
    image
        .strip_prefix("docker.io/")
        .map_or(format!("docker.io/{image}"), str::to_string)
}

pub(super) fn delete(tier: &Tier4, name: &str) {
    let out = tier.cli(&["sandbox", "delete", name]);
    assert!(out.status.success(), "delete {name}: {}", text(&out));
    wait_for(Duration::from_secs(30), "gone from the CLI", || {
        !tier.names_listed().contains(&name.to_string())
    });
}

/// Warm creates split by timestamps, each since the start of `sandbox create`.
#[derive(Default)]
struct WarmSteps {
    ready: Vec<Duration>,
    bound: Vec<Duration>,
    bind: Vec<Duration>,
    pod_updated: Vec<Duration>,
    delivered: Vec<Duration>,
    session: Vec<Duration>,
}

impl WarmSteps {
    fn record(&mut self, tier: &Tier4, wall0: SystemTime, id: &str, member: &str) {
        let since = |at: SystemTime| at.duration_since(wall0).unwrap_or_default();
        if let Some((ms, at)) = bound_line(&tier.log("driver"), id) {
            self.bind.push(Duration::from_secs_f64(ms / 1000.0));
            self.bound.push(since(at));
        }
        let kubelet = std::fs::read_to_string(format!("{}/logs/kubelet.log", var("E2E_DIR")));
        if let Some(at) = kubelet_updated_at(&kubelet.unwrap_or_default(), member, wall0) {
            self.pod_updated.push(since(at));
        }
        if let Some(at) = launcher_bound_at(tier, member) {
            self.delivered.push(since(at));
        }
        if let Some(at) = session_accepted_at(&tier.log("gateway"), id) {
            self.session.push(since(at));
        }
    }
}

/// The first time after `after` that the kubelet took an update of `member`'s pod from the API
/// (its `SyncLoop UPDATE` line; klog stamps carry no year and no zone, and this node logs UTC).
fn kubelet_updated_at(log: &str, member: &str, after: SystemTime) -> Option<SystemTime> {
    let pod = format!("/{member}\"]");
    let year = k8s_openapi::jiff::Timestamp::try_from(after)
        .ok()?
        .to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC)
        .year();
    log.lines()
        .filter(|l| l.contains("\"SyncLoop UPDATE\"") && l.contains(&pod))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let (day, time) = (words.next()?.get(1..)?, words.next()?);
            let stamp = format!("{year}-{}-{}T{time}Z", day.get(..2)?, day.get(2..)?);
            stamp.parse::<k8s_openapi::jiff::Timestamp>().ok().map(SystemTime::from)
        })
        .find(|at| *at >= after)
}

/// When the gateway accepted the supervisor session of sandbox `id`.
fn session_accepted_at(log: &str, id: &str) -> Option<SystemTime> {
    let line = strip_colour(log)
        .lines()
        .find(|l| l.contains("supervisor session: accepted") && l.contains(id))?
        .to_string();
    let stamp: k8s_openapi::jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
    Some(SystemTime::from(stamp))
}

/// The driver's log line for the bind of sandbox `id`: its `bind_ms` and when it was written.
fn bound_line(log: &str, id: &str) -> Option<(f64, SystemTime)> {
    let line = log
        .lines()
        .find(|l| l.contains("sandbox bound to a warm member") && l.contains(id))?;
    let json: serde_json::Value = serde_json::from_str(line).ok()?;
    let stamp: k8s_openapi::jiff::Timestamp = json["timestamp"].as_str()?.parse().ok()?;
    Some((json["bind_ms"].as_f64()?, SystemTime::from(stamp)))
}

/// When the member's launcher logged that it was bound (`kubectl logs --timestamps`).
fn launcher_bound_at(tier: &Tier4, member: &str) -> Option<SystemTime> {
    let log = tier
        .cluster
        .try_kubectl(
            &["-n", &tier.namespace, "logs", member, "-c", "agent", "--timestamps"],
            None,
        )
        .ok()?;
    let line = log.lines().find(|l| l.contains("bound to sandbox"))?;
    let stamp: k8s_openapi::jiff::Timestamp = line.split_whitespace().next()?.parse().ok()?;
    Some(SystemTime::from(stamp))
}

pub(super) fn sandbox_id(tier: &Tier4, name: &str) -> String {
    tier.sandbox(name)
        .and_then(|s| s["id"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The Sandbox object (a member, once bound) that carries sandbox `id`.
pub(super) fn bound_member(tier: &Tier4, id: &str) -> String {
    let selector = format!("openshell.ai/sandbox-id={id}");
    let args = [
        "-n",
        &tier.namespace,
        "get",
        "sandboxes",
        "-l",
        &selector,
        "-o",
        "jsonpath={.items[*].metadata.name}",
    ];
    tier.cluster.kubectl(&args, None).trim().to_string()
}
