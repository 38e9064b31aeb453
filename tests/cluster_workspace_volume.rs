//! Tier 3: the persistent workspace (issue #12 item 9) as the real agent-sandbox controller and
//! garbage collector treat it: the claim `workspace-<sandbox>` from the Sandbox's
//! `volumeClaimTemplates`, kept across stop and start, deleted with the sandbox, or kept and
//! released by `--workspace-retain`. Each test brings a PersistentVolume of its own class (kwok
//! nodes mount nothing, so a hostPath is enough), so the claim binds and the pod is scheduled.

mod common;

use std::time::Duration;

use common::tier3::{Env, READY_WITHIN};
use common::*;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::Api;
use openshell_driver_openshift::proto::*;

/// A PersistentVolume of the StorageClass named like the test's namespace, removed on drop.
struct Volume<'a> {
    env: &'a Env,
    name: String,
}

impl<'a> Volume<'a> {
    fn of_class(env: &'a Env, tag: &str) -> Self {
        let name = format!("{}-{tag}", env.namespace);
        env.cluster.kubectl(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}}}\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  storageClassName: {class}\n  persistentVolumeReclaimPolicy: Retain\n  hostPath: {{path: /tmp/{name}}}\n",
                class = env.namespace
            )),
        );
        Self { env, name }
    }
}

impl Drop for Volume<'_> {
    fn drop(&mut self) {
        let _ = self
            .env
            .cluster
            .try_kubectl(&["delete", "pv", &self.name, "--wait=false"], None);
    }
}

async fn workspace_env(extra: &[&str]) -> Env {
    // The class is named after the namespace, which Env picks: start, then point the driver at
    // it through driver_config instead of a flag.
    let mut args = vec!["--workspace-volume", "persistent", "--workspace-size", "1Gi"];
    args.extend_from_slice(extra);
    Env::start_with(None, &args).await
}

fn request_in_class(env: &Env, id: &str, name: &str) -> DriverSandbox {
    let mut request = sandbox_request(id, name);
    let template = request
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .expect("a template");
    template.driver_config = Some(
        openshell_driver_openshift::proto::json::json_to_struct(
            &serde_json::json!({"workspace": {"storage_class": env.namespace}}),
        )
        .expect("an object"),
    );
    request
}

fn claims(env: &Env) -> Api<PersistentVolumeClaim> {
    Api::namespaced(env.kube.clone(), &env.namespace)
}

async fn claim_of(env: &Env, name: &str) -> PersistentVolumeClaim {
    let claim = format!("workspace-default--{name}");
    eventually(READY_WITHIN, "the controller's workspace claim", || async {
        claims(env).get_opt(&claim).await.ok().flatten()
    })
    .await
}

async fn delete(env: &Env, id: &str) {
    let mut client = env.driver.client().await;
    client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id.into(),
            sandbox_name: String::new(),
        })
        .await
        .expect("deletes");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn the_workspace_claim_survives_stop_and_start_and_goes_with_the_sandbox() {
    let env = workspace_env(&[]).await;
    let _volume = Volume::of_class(&env, "ws");
    let id = new_id();
    let mut client = env.driver.client().await;
    validate_and_create(&mut client, request_in_class(&env, &id, "ws")).await;
    let claim = claim_of(&env, "ws").await;
    let labels = claim.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("openshell.ai/sandbox-id"), Some(&id), "the sandbox's labels");
    let owners = claim.metadata.owner_references.clone().unwrap_or_default();
    assert!(
        owners.iter().any(|o| o.kind == "Sandbox"),
        "owned by the Sandbox: {owners:?}"
    );
    let spec = claim.spec.clone().expect("spec");
    assert_eq!(spec.storage_class_name.as_deref(), Some(env.namespace.as_str()));
    let pod = env.stored_pod("default--ws").await;
    let pod_spec = pod.spec.expect("spec");
    let volume = pod_spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "workspace")
        .and_then(|v| v.persistent_volume_claim)
        .expect("the pod mounts the claim");
    assert_eq!(volume.claim_name, "workspace-default--ws");
    assert!(
        pod_spec
            .init_containers
            .unwrap_or_default()
            .iter()
            .any(|c| c.name == "workspace-init"),
        "the seed runs first"
    );
    env.wait_ready(&id).await;

    client
        .stop_sandbox(StopSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("stops");
    eventually(READY_WITHIN, "the Pod gone", || async {
        env.pods().get_opt("default--ws").await.ok().filter(Option::is_none)
    })
    .await;
    let stopped = claims(&env)
        .get("workspace-default--ws")
        .await
        .expect("the claim stays");
    assert_eq!(stopped.metadata.uid, claim.metadata.uid, "the same claim while stopped");
    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: String::new(),
        })
        .await
        .expect("starts");
    env.wait_ready(&id).await;
    let started = claims(&env).get("workspace-default--ws").await.expect("the claim");
    assert_eq!(started.metadata.uid, claim.metadata.uid, "the same claim after start");

    delete(&env, &id).await;
    eventually(Duration::from_secs(60), "the claim garbage-collected", || async {
        claims(&env)
            .get_opt("workspace-default--ws")
            .await
            .ok()
            .filter(Option::is_none)
    })
    .await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_retained_claim_outlives_its_sandbox_and_no_later_sandbox_takes_it() {
    let env = workspace_env(&["--workspace-retain"]).await;
    let _volume = Volume::of_class(&env, "keep");
    let id = new_id();
    let mut client = env.driver.client().await;
    validate_and_create(&mut client, request_in_class(&env, &id, "keep")).await;
    let claim = claim_of(&env, "keep").await;
    env.wait_ready(&id).await;
    delete(&env, &id).await;
    eventually(READY_WITHIN, "the Sandbox and Pod gone", || async {
        let gone = env.sandboxes().get_opt("default--keep").await.ok()?.is_none()
            && env.pods().get_opt("default--keep").await.ok()?.is_none();
        gone.then_some(())
    })
    .await;
    // The garbage collector had its chance: the Sandbox is gone, the claim is not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept = claims(&env).get("workspace-default--keep").await.expect("kept");
    assert_eq!(kept.metadata.uid, claim.metadata.uid);
    assert!(kept.metadata.deletion_timestamp.is_none(), "not being deleted");
    assert!(
        kept.metadata.owner_references.clone().unwrap_or_default().is_empty(),
        "released"
    );
    let labels = kept.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("openshell.ai/workspace-retained"), Some(&id));
    assert!(
        !labels.contains_key("agents.x-k8s.io/sandbox-name-hash"),
        "no tracking label: the controller adopts no kept claim"
    );

    // A new sandbox of the same name is refused before anything is written.
    let again = new_id();
    let refused = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(request_in_class(&env, &again, "keep")),
        })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("workspace-default--keep"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains(&id),
        "names the sandbox it was kept from: {}",
        refused.message()
    );
    assert!(env.sandboxes().get_opt("default--keep").await.expect("get").is_none());

    // Once the operator deletes the kept claim, the name is free again.
    env.cluster.kubectl(
        &[
            "-n",
            &env.namespace,
            "delete",
            "pvc",
            "workspace-default--keep",
            "--wait=true",
        ],
        None,
    );
    validate_and_create(&mut client, request_in_class(&env, &again, "keep")).await;
    let fresh = claim_of(&env, "keep").await;
    assert_ne!(fresh.metadata.uid, claim.metadata.uid, "a new claim");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn check_says_whether_a_storage_class_can_make_the_claims() {
    let env = workspace_env(&[]).await;
    let class = format!("{}-sc", env.namespace);
    let flags = [
        "--namespace",
        env.namespace.as_str(),
        "--workspace-volume",
        "persistent",
    ];
    let named = [&flags[..], &["--workspace-storage-class", class.as_str()]].concat();
    let (_, lines) = run_check(&env.cluster.kubeconfig, &named);
    assert_eq!(verdict_of(&lines, "workspace-volume"), Some("fail"), "{lines:?}");
    env.cluster.kubectl(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {{name: {class}}}\nprovisioner: example.com/none\n"
        )),
    );
    let (_, lines) = run_check(&env.cluster.kubeconfig, &named);
    env.cluster.kubectl(&["delete", "storageclass", &class], None);
    assert_eq!(verdict_of(&lines, "workspace-volume"), Some("pass"), "{lines:?}");
    let (_, lines) = run_check(&env.cluster.kubeconfig, &flags);
    let detail = lines.iter().find(|l| l.0 == "workspace-volume").map(|l| l.2.clone());
    assert_eq!(
        verdict_of(&lines, "workspace-volume"),
        Some("warn"),
        "no default class here: {lines:?}"
    );
    assert!(detail.unwrap_or_default().contains("no default StorageClass"));
    let off = ["--namespace", env.namespace.as_str(), "--workspace-volume", "off"];
    let (_, lines) = run_check(&env.cluster.kubeconfig, &off);
    assert_eq!(verdict_of(&lines, "workspace-volume"), Some("pass"), "{lines:?}");
}
