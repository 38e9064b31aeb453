//! Tier 3: a sandbox whose pod cannot start says why (docs/pod-failures.md). No kubelet runs
//! containers here, so the kubelet's part is played by patching the Pod's status as admin; the
//! scheduler is real, so an unplaceable GPU request is really `Unschedulable`.

mod common;

use std::time::Duration;

use common::tier3::{Env, READY_WITHIN};
use common::*;
use openshell_driver_openshift::proto::watch_sandboxes_event::Payload;
use openshell_driver_openshift::proto::*;

fn platform_event<'a>(event: &'a WatchSandboxesEvent, id: &str, reason: &str) -> Option<&'a DriverPlatformEvent> {
    match &event.payload {
        Some(Payload::PlatformEvent(p)) if p.sandbox_id == id => p.event.as_ref().filter(|e| e.reason == reason),
        _ => None,
    }
}

fn ready_reason(sandbox: &DriverSandbox) -> Option<(String, String)> {
    condition(sandbox, "Ready").map(|c| (c.reason.clone(), c.message.clone()))
}

/// Plays the kubelet: the agent container waits with `reason`.
fn kubelet_says(env: &Env, pod: &str, reason: &str, message: &str) {
    let patch = serde_json::json!({"status": {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [agent]"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"}
        ],
        "containerStatuses": [{
            "name": "agent", "image": "registry.example/agent:1", "imageID": "", "ready": false,
            "restartCount": 0, "started": false, "state": {"waiting": {"reason": reason, "message": message}}
        }]
    }});
    env.cluster.kubectl(
        &[
            "patch",
            "pod",
            pod,
            "-n",
            &env.namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            &patch.to_string(),
        ],
        None,
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (hack/test-integration.sh)"]
async fn an_image_that_is_never_pulled_fails_at_once_and_is_announced_once() {
    let env = Env::start().await;
    let id = new_id();
    let mut client = env.driver.client().await;
    let mut events = Events::open(&mut client).await;
    env.create(&id, "never").await;
    let pod = "default--never";
    eventually(READY_WITHIN, "the controller's Pod", || async {
        env.pods().get_opt(pod).await.ok().flatten()
    })
    .await;
    let message = "Container image \"registry.example/agent:1\" is not present with pull policy of Never";
    // Retried: a fake kubelet's first status can race the Pod's own start.
    let failed = eventually(
        READY_WITHIN,
        "Ready=False ErrImageNeverPull through GetSandbox",
        || async {
            kubelet_says(&env, pod, "ErrImageNeverPull", message);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let sandbox = env.get(&id).await.ok()?;
            (ready_reason(&sandbox)?.0 == "ErrImageNeverPull").then_some(sandbox)
        },
    )
    .await;
    let (_, shown) = ready_reason(&failed).expect("Ready");
    assert_eq!(condition(&failed, "Ready").map(|c| c.status.as_str()), Some("False"));
    assert!(shown.contains(message), "the kubelet's message: {shown}");
    let event = events
        .until(READY_WITHIN, |e| platform_event(e, &id, "ErrImageNeverPull").is_some())
        .await
        .expect("a platform event");
    let event = platform_event(&event, &id, "ErrImageNeverPull").expect("event");
    assert_eq!(event.r#type, "Warning");
    assert!(event.message.contains(message), "{}", event.message);
    // More status writes of the same failure: no second announcement.
    kubelet_says(&env, pod, "ErrImageNeverPull", message);
    let again = events
        .until(Duration::from_secs(8), |e| {
            platform_event(e, &id, "ErrImageNeverPull").is_some()
        })
        .await;
    assert!(again.is_none(), "announced once: {again:?}");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (hack/test-integration.sh)"]
async fn a_pull_error_is_transient_with_its_message_until_the_grace() {
    let env = Env::start().await;
    let id = new_id();
    env.create(&id, "pull").await;
    let pod = "default--pull";
    eventually(READY_WITHIN, "the controller's Pod", || async {
        env.pods().get_opt(pod).await.ok().flatten()
    })
    .await;
    let pending = eventually(READY_WITHIN, "the pull error in a transient Ready", || async {
        kubelet_says(
            &env,
            pod,
            "ErrImagePull",
            "dial tcp: lookup registry.example: i/o timeout",
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sandbox = env.get(&id).await.ok()?;
        let (reason, message) = ready_reason(&sandbox)?;
        message.contains("ErrImagePull").then_some((reason, message))
    })
    .await;
    assert_eq!(pending.0, "DependenciesNotReady", "still provisioning for the gateway");
    assert!(pending.1.contains("i/o timeout"), "{}", pending.1);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (hack/test-integration.sh)"]
async fn an_unschedulable_pod_is_an_event_at_once_and_an_error_after_the_timeout() {
    let env = Env::start_with(None, &["--unschedulable-timeout", "4s"]).await;
    let id = new_id();
    let mut client = env.driver.client().await;
    let mut events = Events::open(&mut client).await;
    // No node has 64 GPUs; ValidateSandboxCreate would refuse it, the gateway may not ask.
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(with_gpu(sandbox_request(&id, "nogpu"), Some(64))),
        })
        .await
        .expect("creates");
    let event = events
        .until(READY_WITHIN, |e| platform_event(e, &id, "Unschedulable").is_some())
        .await
        .expect("the scheduler's reason as a platform event");
    let event = platform_event(&event, &id, "Unschedulable").expect("event");
    assert!(
        event.message.contains("nvidia.com/gpu"),
        "the scheduler's message: {}",
        event.message
    );
    let failed = eventually(READY_WITHIN, "Ready=False Unschedulable after the timeout", || async {
        let sandbox = env.get(&id).await.ok()?;
        (ready_reason(&sandbox)?.0 == "Unschedulable").then_some(sandbox)
    })
    .await;
    let (_, message) = ready_reason(&failed).expect("Ready");
    assert!(message.contains("nvidia.com/gpu"), "{message}");
}

/// Polls for the controller's Pod of `name` in `namespace`.
async fn pod_in(kube: &kube::Client, namespace: &str, name: &str) -> k8s_openapi::api::core::v1::Pod {
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(kube.clone(), namespace);
    eventually(READY_WITHIN, "the controller's Pod", || async {
        pods.get_opt(name).await.ok().flatten()
    })
    .await
}

fn pod_service_account(pod: &k8s_openapi::api::core::v1::Pod) -> Option<String> {
    pod.spec.as_ref()?.service_account_name.clone()
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (hack/test-integration.sh)"]
async fn managed_mode_gives_each_workspace_the_sandbox_service_account() {
    use common::tier3::ManagedEnv;
    let ManagedEnv {
        cluster,
        home,
        prefix,
        driver,
        _dir,
    } = ManagedEnv::start("t3sa").await;
    let kube = cluster.client().await;
    let mut client = driver.client().await;
    let mut request = sandbox_request(&new_id(), "sa");
    request.workspace = "team".into();
    validate_and_create(&mut client, request).await;
    let namespace = format!("{prefix}team");
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(kube.clone(), &namespace);
    let account = accounts
        .get("openshell-sandbox")
        .await
        .expect("the sandbox ServiceAccount");
    let labels = account.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("openshell.ai/managed-by").map(String::as_str),
        Some("openshell")
    );
    assert_eq!(labels.get("openshell.ai/gateway-id"), Some(&home));
    assert_eq!(account.automount_service_account_token, Some(false));
    let pod = pod_in(&kube, &namespace, "sa").await;
    assert_eq!(pod_service_account(&pod).as_deref(), Some("openshell-sandbox"));
    // A second sandbox in the same workspace: the existing account is fine.
    let mut again = sandbox_request(&new_id(), "sa2");
    again.workspace = "team".into();
    validate_and_create(&mut client, again).await;
    for name in [namespace.as_str(), home.as_str()] {
        let _ = cluster.try_kubectl(&["delete", "namespace", name, "--wait=false"], None);
    }
    let _ = cluster.try_kubectl(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("openshell-driver-{home}"),
            "--wait=false",
        ],
        None,
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (hack/test-integration.sh)"]
async fn shared_mode_refuses_a_create_without_the_sandbox_service_account() {
    let env = Env::start_with(None, &["--sandbox-service-account", "openshell-sandbox"]).await;
    // As deploy/rbac.yaml says: the Role names the configured ServiceAccount.
    let ns = env.namespace.as_str();
    env.cluster.kubectl(
        &[
            "create",
            "role",
            "sandbox-sa",
            "-n",
            ns,
            "--verb=get",
            "--resource=serviceaccounts",
            "--resource-name=openshell-sandbox",
        ],
        None,
    );
    env.cluster.kubectl(
        &[
            "create",
            "rolebinding",
            "sandbox-sa",
            "-n",
            ns,
            "--role=sandbox-sa",
            &format!("--serviceaccount={ns}:openshell-driver"),
        ],
        None,
    );
    let client = env.driver.client().await;
    let id = new_id();
    let refused = eventually(READY_WITHIN, "FAILED_PRECONDITION naming the ServiceAccount", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let e = client
                .create_sandbox(CreateSandboxRequest {
                    sandbox: Some(sandbox_request(&id, "nosa")),
                })
                .await
                .expect_err("refused");
            // The Role is seen by the authorizer shortly after it is made.
            (e.code() == tonic::Code::FailedPrecondition).then_some(e)
        }
    })
    .await;
    assert!(refused.message().contains("openshell-sandbox"), "{}", refused.message());
    env.assert_nothing_written().await;
    env.cluster
        .kubectl(&["create", "serviceaccount", "openshell-sandbox", "-n", ns], None);
    env.create(&id, "nosa").await;
    let pod = pod_in(&env.kube, ns, "default--nosa").await;
    assert_eq!(pod_service_account(&pod).as_deref(), Some("openshell-sandbox"));
}
