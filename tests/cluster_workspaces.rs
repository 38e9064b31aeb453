//! Tier 3, workspace modes beyond shared: operator mode (the platform team's namespaces on an
//! allowlist, by label and by file) and the Secrets managed mode copies into its namespaces,
//! against the same real API server and controller as `cluster_kubernetes.rs`.

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

/// The image-pull Secret tier 3 copies (the name deploy/rbac-managed.yaml may read and write).
const PULL_SECRET: &str = "openshell-image-pull";

fn apply_pull_secret(cluster: &Cluster, namespace: &str, auth: &str) {
    let config = serde_json::json!({"auths": {"registry.test": {"auth": auth}}}).to_string();
    let secret = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": PULL_SECRET, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": config},
    });
    cluster.kubectl(&["apply", "-f", "-"], Some(&secret.to_string()));
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn managed_mode_copies_secrets_into_its_namespaces_and_keeps_them_current() {
    use common::tier3::ManagedEnv;
    let env = ManagedEnv::start_with("t3mc", &["--image-pull-secrets", PULL_SECRET], |cluster, home| {
        apply_pull_secret(cluster, home, "djE=")
    })
    .await;
    let kube = env.cluster.client().await;
    let mut client = env.driver.client().await;
    let secrets_in = |ns: &str| -> Api<Secret> { Api::namespaced(kube.clone(), ns) };
    let (ns_a, ns_b) = (format!("{}a", env.prefix), format!("{}b", env.prefix));
    let source = |name: &str| {
        let api = secrets_in(&env.home);
        let name = name.to_string();
        async move { api.get(&name).await.expect("source") }
    };

    // EnsureWorkspace and CreateSandbox both leave the copies in the namespace they make.
    client
        .ensure_workspace(EnsureWorkspaceRequest { workspace: "a".into() })
        .await
        .expect("ensure");
    let id = new_id();
    let mut sandbox = sandbox_request(&id, "worker");
    sandbox.workspace = "b".into();
    client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect("create");
    wait_until_ready(&client, &id, READY_WITHIN).await;
    for ns in [&ns_a, &ns_b] {
        for name in [PULL_SECRET, CLIENT_TLS_SECRET] {
            let copy = secrets_in(ns)
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("{name} in {ns}: {e}"));
            let want = source(name).await;
            assert_eq!((&copy.type_, &copy.data), (&want.type_, &want.data), "{name} in {ns}");
            let labels = copy.metadata.labels.clone().unwrap_or_default();
            assert_eq!(labels.get("openshell.ai/copy-of").map(String::as_str), Some(name));
            assert_eq!(labels.get("openshell.ai/gateway-id"), Some(&env.home));
        }
    }
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(kube.clone(), &ns_b);
    let pod = eventually(READY_WITHIN, "the sandbox pod", || async {
        pods.get_opt("worker").await.ok().flatten()
    })
    .await;
    let pull: Vec<String> = pod
        .spec
        .and_then(|s| s.image_pull_secrets)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(pull, [PULL_SECRET], "the pod pulls with the copy in its own namespace");

    // A changed source reaches every copy, with no create in between (the source watch).
    apply_pull_secret(&env.cluster, &env.home, "djI=");
    env.cluster
        .apply_client_tls_secret(&env.home, &["ca.crt", "tls.crt", "tls.key", "rotated"]);
    let want_pull = source(PULL_SECRET).await.data;
    for ns in [&ns_a, &ns_b] {
        eventually(
            PICKED_UP_WITHIN,
            &format!("the copies in {ns} follow their sources"),
            || {
                let api = secrets_in(ns);
                let want_pull = want_pull.clone();
                async move {
                    let pull = api.get(PULL_SECRET).await.ok()?;
                    let tls = api.get(CLIENT_TLS_SECRET).await.ok()?;
                    (pull.data == want_pull && tls.data.unwrap_or_default().contains_key("rotated")).then_some(())
                }
            },
        )
        .await;
    }

    // A Secret of that name the driver did not make is never touched.
    let foreign = format!("{}foreign", env.prefix);
    env.cluster.create_namespace(&foreign);
    apply_pull_secret(&env.cluster, &foreign, "Zm9yZWlnbg==");

    // The copies are found by their labels, and a deleted source takes its copies with it.
    let all: Api<Secret> = Api::all(kube.clone());
    let selector = format!(
        "openshell.ai/copy-of={PULL_SECRET},openshell.ai/gateway-id={}",
        env.home
    );
    let found = all.list(&ListParams::default().labels(&selector)).await.expect("list");
    let mut where_found: Vec<String> = found
        .items
        .iter()
        .filter_map(|s| s.metadata.namespace.clone())
        .collect();
    where_found.sort();
    assert_eq!(where_found, [ns_a.clone(), ns_b.clone()]);
    env.cluster
        .kubectl(&["delete", "secret", PULL_SECRET, "-n", &env.home], None);
    eventually(PICKED_UP_WITHIN, "the copies removed with their source", || {
        let all = all.clone();
        let selector = selector.clone();
        async move {
            let left = all.list(&ListParams::default().labels(&selector)).await.ok()?;
            left.items.is_empty().then_some(())
        }
    })
    .await;
    assert!(
        secrets_in(&foreign).get_opt(PULL_SECRET).await.expect("get").is_some(),
        "not ours: left in place"
    );
    assert!(
        secrets_in(&ns_a)
            .get_opt(CLIENT_TLS_SECRET)
            .await
            .expect("get")
            .is_some(),
        "other copies stay"
    );
    // Without its source, a create is FAILED_PRECONDITION naming the flag, and nothing is written.
    let mut refused = sandbox_request(&new_id(), "refused");
    refused.workspace = "b".into();
    let err = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(refused) })
        .await
        .expect_err("no source");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("--image-pull-secrets"), "{}", err.message());
    let sandboxes: Api<DynamicObject> =
        Api::namespaced_with(kube.clone(), &ns_b, &sandbox_resource(SandboxApiVersion::V1beta1));
    assert!(sandboxes.get_opt("refused").await.expect("get").is_none());

    // Deleting a workspace removes its namespace, copies and all.
    client
        .delete_workspace(DeleteWorkspaceRequest { workspace: "a".into() })
        .await
        .expect("delete");
    let namespaces: Api<Namespace> = Api::all(kube.clone());
    let gone = namespaces.get_opt(&ns_a).await.expect("get");
    assert!(gone.is_none_or(|n| n.metadata.deletion_timestamp.is_some()));

    for ns in [&env.home, &ns_a, &ns_b, &foreign] {
        let _ = env
            .cluster
            .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
    }
    let _ = env.cluster.try_kubectl(
        &[
            "delete",
            "clusterrole,clusterrolebinding",
            &format!("openshell-driver-{}", env.home),
        ],
        None,
    );
}
