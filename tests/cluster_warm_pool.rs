//! Tier 3, the warm pool's bookkeeping against the real API server and agent-sandbox controller
//! (kwok runs the pods): the pool fills, hides its members, binds a matching create once and
//! refills; a create that matches no profile goes cold and says why; concurrent creates never
//! share a member; a half-made bind is undone and a changed profile replaces its members.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::tier3::{Env, READY_WITHIN};
use common::*;
use futures::TryStreamExt;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use openshell_driver_openshift::kubernetes::identity::LABEL_SANDBOX_ID;
use openshell_driver_openshift::kubernetes::warm_pool::member::identity_secret_name;
use openshell_driver_openshift::kubernetes::warm_pool::pool::BIND_INTENT_ANNOTATION;
use openshell_driver_openshift::proto::*;
use openshell_driver_openshift::warm_identity::{ENVIRONMENT_FILE, decode_environment};

/// Members are started, then Ready through kwok and the controller.
const FILLED_WITHIN: Duration = Duration::from_secs(60);

/// A profile for `sandbox_request`'s pod, `size` members.
fn profile_file(dir: &Path, image: &str, size: u32) -> PathBuf {
    let path = dir.join(format!("warm-{size}-{}.yaml", image.len()));
    let text = format!(
        "profiles:\n  - name: agent\n    size: {size}\n    template:\n      image: {image}\n      resources: {{cpuRequest: 100m, memoryLimit: 256Mi}}\n"
    );
    std::fs::write(&path, text).expect("write the profile");
    path
}

async fn start(size: u32) -> (Env, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let profiles = profile_file(dir.path(), "registry.example/agent:1", size);
    let env = Env::start_with(None, &["--warm-pool-config", &profiles.to_string_lossy()]).await;
    (env, dir)
}

/// Unbound members, and how many of them are Ready.
async fn members(env: &Env) -> (Vec<String>, usize) {
    let selector = format!("openshell.ai/warm-profile=agent,!{LABEL_SANDBOX_ID}");
    let list = env
        .sandboxes()
        .list(&ListParams::default().labels(&selector))
        .await
        .expect("list members");
    let live: Vec<_> = list
        .items
        .iter()
        .filter(|s| s.metadata.deletion_timestamp.is_none())
        .collect();
    let ready = live
        .iter()
        .filter(|s| {
            s.data["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .count();
    (live.iter().map(|s| s.name_any()).collect(), ready)
}

async fn filled(env: &Env, size: usize) -> Vec<String> {
    eventually(FILLED_WITHIN, &format!("{size} ready members"), || async {
        let (names, ready) = members(env).await;
        (names.len() == size && ready == size).then_some(names)
    })
    .await
}

async fn metric(env: &Env, series: &str) -> f64 {
    let (_, text) = http_get(&env.driver.metrics_addr, "/metrics").await;
    metric_value(&text, series)
}

/// The Sandbox object that carries sandbox `id`.
async fn object_of(env: &Env, id: &str) -> kube::api::DynamicObject {
    let list = env
        .sandboxes()
        .list(&ListParams::default().labels(&format!("{LABEL_SANDBOX_ID}={id}")))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1, "one Sandbox for {id}");
    list.items.into_iter().next().expect("one")
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_matching_create_binds_a_hidden_member_and_the_pool_refills() {
    let (env, _dir) = start(2).await;
    let before = filled(&env, 2).await;
    let mut client = env.driver.client().await;
    assert!(
        list_all(&mut client).await.expect("list").is_empty(),
        "members are never listed"
    );

    let id = new_id();
    env.create(&id, "dev").await;
    let object = object_of(&env, &id).await;
    let member = object.name_any();
    assert!(before.contains(&member), "bound to a member ({member}), not made cold");
    let shown = env.get(&id).await.expect("get");
    assert_eq!((shown.name.as_str(), shown.workspace.as_str()), ("dev", "default"));
    let annotations = &object.data["spec"]["podTemplate"]["metadata"]["annotations"];
    assert_eq!(
        annotations["openshell.io/sandbox-id"],
        id.as_str(),
        "the pod learns its sandbox"
    );
    let secret = env
        .secrets()
        .get(&identity_secret_name(&member))
        .await
        .expect("identity Secret");
    let owner = secret.owner_references().first().map(|o| o.uid.clone());
    assert_eq!(owner, object.uid(), "owned by the member");
    let env_file = secret
        .data
        .unwrap_or_default()
        .remove(ENVIRONMENT_FILE)
        .expect("environment");
    let delivered = decode_environment(&env_file.0).expect("decodes");
    for (name, value) in [
        ("OPENSHELL_SANDBOX_ID", id.as_str()),
        ("OPENSHELL_SANDBOX", "dev"),
        ("GREETING", "hello"),
    ] {
        assert!(
            delivered.iter().any(|(n, v)| n == name && v == value),
            "{name}={value} delivered: {delivered:?}"
        );
    }
    wait_until_ready(&client, &id, READY_WITHIN).await;
    let binds = "openshell_driver_warm_binds_total{profile=\"agent\"}";
    assert_eq!(metric(&env, binds).await, 1.0);

    // The pool refills; a retry of the same create (the gateway's) finds the sandbox by its id.
    filled(&env, 2).await;
    env.create(&id, "dev").await;
    object_of(&env, &id).await;
    assert_eq!(metric(&env, binds).await, 1.0, "a retry binds nothing");

    // Another image: no profile has its pod, so it goes cold, named as a cold sandbox is.
    let other = new_id();
    let mut request = sandbox_request(&other, "other");
    if let Some(t) = request.spec.as_mut().and_then(|s| s.template.as_mut()) {
        t.image = "registry.example/agent:2".into();
    }
    validate_and_create(&mut client, request).await;
    assert_eq!(object_of(&env, &other).await.name_any(), "default--other");
    assert_eq!(
        metric(&env, "openshell_driver_warm_misses_total{reason=\"no_profile\"}").await,
        1.0
    );

    // Deleted like any sandbox; its Secrets go with it.
    client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("delete");
    eventually(READY_WITHIN, "the bound member gone", || async {
        env.sandboxes().get_opt(&member).await.ok()?.is_none().then_some(())
    })
    .await;
    remove(&env);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn concurrent_creates_never_share_a_member() {
    let (env, _dir) = start(3).await;
    let members_before = filled(&env, 3).await;
    let client = env.driver.client().await;
    let ids: Vec<String> = (0..8).map(|_| new_id()).collect();
    let creates = ids.iter().enumerate().map(|(i, id)| {
        let mut client = client.clone();
        let request = sandbox_request(id, &format!("race-{i}"));
        async move { validate_and_create(&mut client, request).await }
    });
    futures::future::join_all(creates).await;
    let mut warm = Vec::new();
    for id in &ids {
        let name = object_of(&env, id).await.name_any();
        if members_before.contains(&name) {
            warm.push(name);
        } else {
            assert!(name.starts_with("default--race-"), "cold: {name}");
        }
    }
    warm.sort();
    warm.dedup();
    assert_eq!(warm.len(), 3, "each member bound once, by one create: {warm:?}");
    let mut client = client.clone();
    assert_eq!(list_all(&mut client).await.expect("list").len(), 8);
    remove(&env);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_half_made_bind_is_undone_and_a_changed_profile_replaces_its_members() {
    let (mut env, dir) = start(2).await;
    let members_before = filled(&env, 2).await;
    // What a driver killed after its claim leaves: the intent, none of the sandbox's labels.
    let claimed = &members_before[0];
    let intent = serde_json::json!({"metadata": {"annotations": {BIND_INTENT_ANNOTATION: new_id()}}});
    env.sandboxes()
        .patch(claimed, &PatchParams::default(), &Patch::Merge(&intent))
        .await
        .expect("claim");
    eventually(READY_WITHIN, "the half-bound member removed", || async {
        let gone = env.sandboxes().get_opt(claimed).await.ok()?;
        gone.is_none_or(|s| s.metadata.deletion_timestamp.is_some())
            .then_some(())
    })
    .await;
    let after = filled(&env, 2).await;
    assert!(!after.contains(claimed), "never bound again: {after:?}");

    // Restarted with another image: the old members are of no profile now, and are replaced.
    env.driver.terminate();
    restart(&mut env, &profile_file(dir.path(), "registry.example/agent:22", 2)).await;
    eventually(FILLED_WITHIN, "the old members replaced by two new ones", || async {
        let (names, ready) = members(&env).await;
        let old_gone = names.iter().all(|m| !after.contains(m));
        (old_gone && names.len() == 2 && ready == 2).then_some(())
    })
    .await;
    remove(&env);
}

/// A driver killed in the middle of a bind (frozen the moment its claim is in the API server,
/// then SIGKILLed), then restarted: the half-bound member is removed with its Secrets and never
/// bound, and the gateway's retry of the same create gets one sandbox.
#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_driver_killed_in_the_middle_of_a_bind_is_made_whole_by_its_restart() {
    const ATTEMPTS: usize = 5;
    let (mut env, dir) = start(2).await;
    let profiles = profile_file(dir.path(), "registry.example/agent:1", 2);
    let mut half_bound = None;
    for attempt in 0..ATTEMPTS {
        filled(&env, 2).await;
        let frozen = tokio::spawn(freeze_at_first_claim(env.sandboxes(), env.driver.child.id()));
        // Let the watch list first, so it sees the claim as it happens.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (id, name) = (new_id(), format!("killed-{attempt}"));
        let mut client = env.driver.client().await;
        let request = CreateSandboxRequest {
            sandbox: Some(sandbox_request(&id, &name)),
        };
        let create = tokio::spawn(async move { client.create_sandbox(request).await });
        let member = tokio::time::timeout(READY_WITHIN, frozen)
            .await
            .expect("a claim within the timeout")
            .expect("the watch task");
        let object = env.sandboxes().get(&member).await.expect("the claimed member");
        kill(&mut env.driver);
        let outcome = create.await.expect("the create task");
        let bound = object.labels().contains_key(LABEL_SANDBOX_ID);
        restart(&mut env, &profiles).await;
        if !bound {
            assert!(
                outcome.is_err(),
                "a create whose bind was cut off did not succeed: {outcome:?}"
            );
            half_bound = Some((id, name, member));
            break;
        }
        // Frozen too late: the bind was whole. Remove it and try again.
        env.sandboxes()
            .delete(&member, &Default::default())
            .await
            .expect("delete");
    }
    let Some((id, name, member)) = half_bound else {
        panic!("in {ATTEMPTS} attempts every bind finished before the driver was frozen");
    };

    eventually(
        READY_WITHIN,
        "the half-bound member and its Secrets removed",
        || async {
            let gone = env.sandboxes().get_opt(&member).await.ok()?;
            let secret = env.secrets().get_opt(&identity_secret_name(&member)).await.ok()?;
            (gone.is_none_or(|s| s.metadata.deletion_timestamp.is_some()) && secret.is_none()).then_some(())
        },
    )
    .await;
    // The gateway retries the create it saw fail: it now gets its sandbox, once.
    let mut client = env.driver.client().await;
    validate_and_create(&mut client, sandbox_request(&id, &name)).await;
    let object = object_of(&env, &id).await;
    assert_ne!(object.name_any(), member, "the half-bound member is never bound");
    let listed = list_all(&mut client).await.expect("list");
    assert_eq!(
        listed.iter().filter(|s| s.id == id).count(),
        1,
        "one sandbox: {listed:?}"
    );
    let after = filled(&env, 2).await;
    assert!(
        !after.contains(&member.to_string()),
        "the pool refilled without it: {after:?}"
    );
    remove(&env);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn check_reports_each_profile_and_refuses_one_that_cannot_render() {
    let (env, dir) = start(0).await;
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.namespace));
    let good = profile_file(dir.path(), "registry.example/agent:1", 2);
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "profiles:\n  - {name: agent, size: 1, template: {image: 'not an image'}}\n",
    )
    .expect("write");
    for (file, want) in [(&good, "pass"), (&bad, "fail")] {
        let args = pool_args(&env.namespace, file);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, lines) = run_check(&kubeconfig, &args);
        let verdict = lines
            .iter()
            .find(|(check, _, _)| check.starts_with("warm-pool"))
            .map(|(_, v, detail)| (v.clone(), detail.clone()));
        let (verdict, detail) = verdict.unwrap_or_else(|| panic!("a warm-pool line: {lines:?}"));
        assert_eq!(verdict, want, "{}: {detail}", file.display());
        if want == "pass" {
            assert!(detail.contains("admitted (dry run)"), "{detail}");
        } else {
            assert!(detail.contains("template.image"), "names the field: {detail}");
        }
    }
    remove(&env);
}

/// The driver's flags for namespace `namespace` with the profiles in `profiles`.
fn pool_args(namespace: &str, profiles: &Path) -> Vec<String> {
    [
        "--namespace",
        namespace,
        "--gateway-endpoint",
        "https://gateway.test:8443",
        "--client-tls-secret",
        common::cluster::CLIENT_TLS_SECRET,
        "--warm-pool-config",
        &profiles.to_string_lossy(),
    ]
    .map(str::to_string)
    .to_vec()
}

/// Starts the driver of `env` again, with the profiles in `profiles`.
async fn restart(env: &mut Env, profiles: &Path) {
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.namespace));
    let mut args = pool_args(&env.namespace, profiles);
    args.extend(["--gateway-id".to_string(), env.namespace.clone()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig.to_string_lossy())]).await;
}

/// Freezes process `pid` (SIGSTOP) the moment a member's claim reaches the API server, and
/// returns that member: its bind is then stopped between the claim and the identity patch,
/// unless it already got past both.
async fn freeze_at_first_claim(api: Api<DynamicObject>, pid: u32) -> String {
    let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).applied_objects());
    while let Some(obj) = events.try_next().await.expect("watch members") {
        if obj.annotations().contains_key(BIND_INTENT_ANNOTATION) {
            let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
            rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("SIGSTOP");
            return obj.name_any();
        }
    }
    panic!("the member watch ended");
}

fn kill(driver: &mut DriverProcess) {
    let _ = driver.child.kill();
    let _ = driver.child.wait();
}

fn remove(env: &Env) {
    let _ = env
        .cluster
        .try_kubectl(&["delete", "namespace", &env.namespace, "--wait=false"], None);
}
