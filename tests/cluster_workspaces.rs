//! Tier 3, operator workspace mode: the platform team's namespaces on an allowlist, by label and
//! by file, under exactly `deploy/rbac-operator.yaml`, against the same real API server and
//! controller as `cluster_kubernetes.rs`. (Managed mode's Secret copies: `cluster_copies.rs`.)

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cluster::{CLIENT_TLS_SECRET, Cluster, client_for, unique_namespace};
use common::tier3::READY_WITHIN;
use common::*;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use openshell_driver_openshift::kubernetes::client::sandbox_resource;
use openshell_driver_openshift::kubernetes::render::SandboxApiVersion;
use openshell_driver_openshift::proto::*;

/// How long an allowlist change may take to reach the driver (the file is polled every 2s).
const PICKED_UP_WITHIN: Duration = Duration::from_secs(20);

/// A driver in operator mode under exactly `deploy/rbac-operator.yaml`, its home namespace
/// holding the client TLS Secret, and the namespaces a platform team made for it.
struct OperatorEnv {
    cluster: Cluster,
    home: String,
    label: String,
    file: PathBuf,
    kubeconfig: PathBuf,
    driver: DriverProcess,
    made: Vec<String>,
    _dir: tempfile::TempDir,
}

impl OperatorEnv {
    /// `sources`: "label", "file" or both.
    async fn start(tag: &str, sources: &[&str], file_names: &[&str]) -> Self {
        let cluster = Cluster::from_env();
        let home = unique_namespace(tag);
        cluster.create_namespace(&home);
        cluster.apply_client_tls_secret(&home, &["ca.crt", "tls.crt", "tls.key"]);
        let dir = tempfile::tempdir().expect("tempdir");
        // The chart test runs these with the chart's rendered operator RBAC instead.
        let rbac =
            std::env::var("OPENSHELL_TEST_OPERATOR_RBAC_FILE").unwrap_or_else(|_| "deploy/rbac-operator.yaml".into());
        let kubeconfig = cluster.driver_identity_from(&rbac, &home, dir.path(), None);
        let label = format!("t3.openshell.ai/allow-{home}");
        let file = dir.path().join("namespaces.json");
        write_allowlist(&file, file_names);
        let selector = format!("{label}=true");
        let file_arg = file.to_string_lossy().into_owned();
        let kc = kubeconfig.to_string_lossy().into_owned();
        let mut args = vec![
            "--workspace-mode",
            "operator",
            "--gateway-id",
            &home,
            "--namespace",
            &home,
            "--gateway-endpoint",
            "https://gateway.test:8443",
            "--client-tls-secret",
            CLIENT_TLS_SECRET,
        ];
        if sources.contains(&"label") {
            args.extend(["--operator-namespace-label", &selector]);
        }
        if sources.contains(&"file") {
            args.extend(["--operator-namespace-file", &file_arg]);
        }
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kc)]).await;
        Self {
            cluster,
            home,
            label,
            file,
            kubeconfig,
            driver,
            made: Vec::new(),
            _dir: dir,
        }
    }

    /// A namespace as the platform team makes it: with or without the allowlist label.
    fn namespace(&mut self, suffix: &str, labelled: bool) -> String {
        let name = format!("{}-{suffix}", self.home);
        self.cluster.create_namespace(&name);
        if labelled {
            self.set_label(&name, true);
        }
        self.made.push(name.clone());
        name
    }

    fn set_label(&self, namespace: &str, on: bool) {
        let arg = if on {
            format!("{}=true", self.label)
        } else {
            format!("{}-", self.label)
        };
        self.cluster
            .kubectl(&["label", "namespace", namespace, &arg, "--overwrite"], None);
    }

    async fn sandboxes_in(&self, namespace: &str) -> Vec<DynamicObject> {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.cluster.client().await,
            namespace,
            &sandbox_resource(SandboxApiVersion::V1beta1),
        );
        api.list(&ListParams::default()).await.expect("list").items
    }
}

impl Drop for OperatorEnv {
    fn drop(&mut self) {
        for ns in std::iter::once(&self.home).chain(&self.made) {
            let _ = self
                .cluster
                .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
        }
        let _ = self.cluster.try_kubectl(
            &[
                "delete",
                "clusterrole,clusterrolebinding",
                &format!("openshell-driver-{}", self.home),
                "--wait=false",
            ],
            None,
        );
    }
}

fn write_allowlist(path: &std::path::Path, names: &[&str]) {
    // Written aside and renamed, as a ConfigMap volume swaps its files.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_string(names).expect("json")).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn request_in(workspace: &str, name: &str) -> DriverSandbox {
    let mut sandbox = sandbox_request(&new_id(), name);
    sandbox.workspace = workspace.into();
    sandbox
}

/// Both ValidateSandboxCreate and CreateSandbox refuse `workspace` as not on the allowlist.
async fn assert_refused(client: &mut ComputeDriverClient, workspace: &str) {
    let sandbox = request_in(workspace, "refused");
    let validate = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect_err("validate refuses");
    let create = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect_err("create refuses");
    for e in [validate, create] {
        assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{}", e.message());
        assert!(
            e.message().contains(&format!("workspace \"{workspace}\"")) && e.message().contains("allowlist"),
            "names the workspace: {}",
            e.message()
        );
    }
}

type ComputeDriverClient =
    openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient<tonic::transport::Channel>;

/// Creates in `workspace` once the driver's allowlist has it (it follows the label or file).
async fn create_once_allowed(client: &ComputeDriverClient, workspace: &str, name: &str) -> String {
    let sandbox = request_in(workspace, name);
    let id = sandbox.id.clone();
    eventually(PICKED_UP_WITHIN, &format!("{workspace} on the allowlist"), || {
        let mut client = client.clone();
        let sandbox = sandbox.clone();
        async move {
            client
                .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
                .await
                .ok()
        }
    })
    .await;
    id
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn operator_mode_by_label_follows_the_namespaces_label() {
    let mut env = OperatorEnv::start("t3ol", &["label"], &[]).await;
    let allowed = env.namespace("on", true);
    let other = env.namespace("off", false);
    let mut client = env.driver.client().await;

    // On the allowlist: the sandbox goes into the namespace of the workspace's name, bare-named,
    // with the client TLS Secret copied in; the namespace's own `default` ServiceAccount is used.
    let id = create_once_allowed(&client, &allowed, "worker").await;
    wait_until_ready(&client, &id, READY_WITHIN).await;
    let stored = env.sandboxes_in(&allowed).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].metadata.name.as_deref(), Some("worker"));
    let secrets: Api<Secret> = Api::namespaced(env.cluster.client().await, &allowed);
    secrets
        .get(CLIENT_TLS_SECRET)
        .await
        .expect("the client TLS Secret is copied in");

    // Outside it: FAILED_PRECONDITION naming it, and nothing written there.
    assert_refused(&mut client, &other).await;
    assert!(env.sandboxes_in(&other).await.is_empty(), "nothing written");
    let copies: Api<Secret> = Api::namespaced(env.cluster.client().await, &other);
    assert!(copies.get_opt(CLIENT_TLS_SECRET).await.expect("get").is_none());

    // The label is watched: labelled later, the namespace is picked up; unlabelled, it is refused.
    env.set_label(&other, true);
    let id2 = create_once_allowed(&client, &other, "late").await;
    wait_until_ready(&client, &id2, READY_WITHIN).await;
    env.set_label(&allowed, false);
    eventually(PICKED_UP_WITHIN, "the unlabelled namespace refused", || {
        let mut client = client.clone();
        let allowed = allowed.clone();
        async move {
            let r = client
                .validate_sandbox_create(ValidateSandboxCreateRequest {
                    sandbox: Some(request_in(&allowed, "again")),
                })
                .await;
            matches!(r, Err(e) if e.code() == tonic::Code::FailedPrecondition).then_some(())
        }
    })
    .await;
    assert_refused(&mut client, &allowed).await;

    // Workspaces are the platform team's: EnsureWorkspace makes nothing, DeleteWorkspace removes
    // nothing.
    let err = client
        .ensure_workspace(EnsureWorkspaceRequest {
            workspace: allowed.clone(),
        })
        .await
        .expect_err("not allowed any more");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    client
        .ensure_workspace(EnsureWorkspaceRequest {
            workspace: other.clone(),
        })
        .await
        .expect("allowed");
    client
        .delete_workspace(DeleteWorkspaceRequest {
            workspace: other.clone(),
        })
        .await
        .expect("delete leaves the namespace");
    let namespaces: Api<Namespace> = Api::all(env.cluster.client().await);
    let kept = namespaces.get(&other).await.expect("still there");
    assert!(kept.metadata.deletion_timestamp.is_none());
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn operator_mode_by_file_rereads_the_file() {
    // The file starts empty; the platform team's namespaces are added to it as they are made.
    let mut env = OperatorEnv::start("t3of", &["file"], &[]).await;
    let listed = env.namespace("a", false);
    let later = env.namespace("b", false);
    // Labels count for nothing without --operator-namespace-label.
    env.set_label(&later, true);
    write_allowlist(&env.file, &[&listed]);
    let mut client = env.driver.client().await;
    let id = create_once_allowed(&client, &listed, "worker").await;
    wait_until_ready(&client, &id, READY_WITHIN).await;
    assert_refused(&mut client, &later).await;
    assert!(env.sandboxes_in(&later).await.is_empty(), "nothing written");

    // The file changes: the new name is picked up, the removed one refused.
    write_allowlist(&env.file, &[&later]);
    let id2 = create_once_allowed(&client, &later, "worker").await;
    wait_until_ready(&client, &id2, READY_WITHIN).await;
    assert_refused(&mut client, &listed).await;
    // An unreadable rewrite keeps the last good list.
    std::fs::write(&env.file, "not json").expect("write");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let id3 = create_once_allowed(&client, &later, "third").await;
    wait_until_ready(&client, &id3, READY_WITHIN).await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn operator_identity_cannot_make_or_remove_namespaces_and_check_agrees() {
    let mut env = OperatorEnv::start("t3oi", &["label", "file"], &[]).await;
    let labelled = env.namespace("l", true);
    let as_driver = client_for(&env.kubeconfig).await;
    let namespaces: Api<Namespace> = Api::all(as_driver);
    let err = namespaces
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: kube::api::ObjectMeta {
                    name: Some(format!("{}-made", env.home)),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .expect_err("no namespace create");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err}");
    let err = namespaces
        .delete(&labelled, &Default::default())
        .await
        .expect_err("no namespace delete");
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err}");

    // `check` under the same identity: the mode, both sources of the allowlist, and every
    // permission of the operator table granted by deploy/rbac-operator.yaml.
    write_allowlist(&env.file, &["from-file"]);
    let selector = format!("{}=true", env.label);
    let file = env.file.to_string_lossy().into_owned();
    let args = [
        "--workspace-mode",
        "operator",
        "--namespace",
        &env.home,
        "--operator-namespace-label",
        &selector,
        "--operator-namespace-file",
        &file,
        "--gateway-endpoint",
        "https://gateway.test:8443",
        "--client-tls-secret",
        CLIENT_TLS_SECRET,
    ];
    let (ok, lines) = run_check(&env.kubeconfig, &args);
    assert!(ok, "check passes: {lines:?}");
    let detail = |c: &str| lines.iter().find(|l| l.0 == c).map(|l| l.2.clone()).unwrap_or_default();
    assert!(detail("workspace-mode").starts_with("operator:"), "{lines:?}");
    assert!(detail("operator-namespace-label").contains(&labelled), "{lines:?}");
    assert!(detail("operator-namespace-file").contains("from-file"), "{lines:?}");
    let permissions: Vec<_> = lines.iter().filter(|(c, _, _)| c.starts_with("permission ")).collect();
    assert!(permissions.iter().all(|(_, v, _)| v == "pass"), "{permissions:?}");
    assert!(
        permissions
            .iter()
            .any(|(c, _, _)| c == "permission watch namespaces cluster-wide"),
        "{permissions:?}"
    );
    assert!(
        !permissions
            .iter()
            .any(|(c, _, _)| c.contains(" create namespaces") || c.contains(" delete namespaces")),
        "{permissions:?}"
    );
    let (ok, lines) = run_check(
        &env.kubeconfig,
        &["--workspace-mode", "operator", "--namespace", &env.home],
    );
    assert!(!ok);
    assert_eq!(verdict_of(&lines, "workspace-mode"), Some("fail"), "{lines:?}");
}
