//! Tier 3 under OpenShift's own admission code, on a cluster from `hack/cluster/up.sh --openshift`
//! (hack/test-integration.sh starts one): OpenShift's CRDs and 13 default SCCs, its SCC admission
//! and its Route validation and host assignment served by URL (hack/openshift-admission), every
//! new namespace given a UID block and MCS label as cluster-policy-controller does, ServiceAccount
//! admission on, and the agent-sandbox controller creating pods under its own ServiceAccount.
//! Nothing here annotates a namespace or decides an SCC: the platform's code does.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::cluster::{Cluster, rbac_for, unique_namespace};
use common::openshift::{Allocation, ManagedOpenShift, SCC_RESOURCE, allocation_now, for_scc, scc_copy};
use common::*;
use openshell_driver_openshift::proto::json::json_to_struct;
use openshell_driver_openshift::proto::watch_sandboxes_event::Payload;
use openshell_driver_openshift::proto::*;
use serde_json::{Value, json};

const READY_WITHIN: Duration = Duration::from_secs(60);
/// up.sh --openshift gives the webhook this Route domain (its default).
const ROUTE_DOMAIN: &str = "apps.openshell.test";
/// The capabilities the supervisor needs (docs/supervisor-contract.md), sorted.
const SUPERVISOR_CAPS: [&str; 4] = ["NET_ADMIN", "SYSLOG", "SYS_ADMIN", "SYS_PTRACE"];

/// This tier means nothing on a vanilla cluster: refuse to run there rather than pass.
fn openshift_cluster() -> Cluster {
    let cluster = Cluster::from_env();
    let webhook = cluster.try_kubectl(
        &[
            "get",
            "mutatingwebhookconfiguration",
            "openshift-admission",
            "-o",
            "name",
        ],
        None,
    );
    assert!(
        webhook.is_ok(),
        "not a cluster from hack/cluster/up.sh --openshift (no openshift-admission webhook): {webhook:?}"
    );
    cluster
}

/// Waits for the allocator's annotations, as the driver must on a real cluster.
async fn allocation_of(cluster: &Cluster, namespace: &str) -> Allocation {
    eventually(
        Duration::from_secs(20),
        "the namespace allocator's annotations",
        || async { allocation_now(cluster, namespace) },
    )
    .await
}

/// One allocated namespace, its own copy of the shipped SCC, one driver under the shipped RBAC.
struct AdmissionEnv {
    cluster: Cluster,
    namespace: String,
    scc: String,
    allocation: Allocation,
    driver: DriverProcess,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl AdmissionEnv {
    /// `drop_rule`: a resource whose rule is left out of deploy/openshift/rbac.yaml.
    async fn start(drop_rule: Option<&str>) -> Self {
        let cluster = openshift_cluster();
        let namespace = unique_namespace("adm");
        cluster.create_namespace(&namespace);
        let allocation = allocation_of(&cluster, &namespace).await;
        let scc = format!("openshell-sandbox-{namespace}");
        cluster.kubectl(&["apply", "-f", "-"], Some(&scc_copy(&scc, None)));
        let rbac = [
            rbac_for("deploy/rbac.yaml", &namespace, None),
            rbac_for("deploy/openshift/rbac.yaml", &namespace, drop_rule),
        ]
        .map(|r| for_scc(&r, &scc));
        cluster.kubectl(&["apply", "-f", "-"], Some(&rbac.join("---\n")));
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = cluster.driver_identity_from_applied(&namespace, dir.path());
        let kubeconfig_env = kubeconfig.to_string_lossy().into_owned();
        let args = [
            "--namespace",
            &namespace,
            "--gateway-id",
            &namespace,
            "--scc",
            &scc,
            "--platform",
            "openshift",
        ];
        let driver = DriverProcess::start(&args, &[("KUBECONFIG", &kubeconfig_env)]).await;
        Self {
            cluster,
            namespace,
            scc,
            allocation,
            driver,
            kubeconfig,
            _dir: dir,
        }
    }

    /// deploy/openshift/scc.yaml's grant (what `oc adm policy add-scc-to-user` makes).
    fn grant_scc(&self) {
        common::openshift::grant_scc(&self.cluster, &self.namespace, &self.scc);
    }

    fn revoke_scc(&self) {
        let ns = &self.namespace;
        self.cluster
            .kubectl(&["delete", "rolebinding", "openshell-sandbox-scc", "-n", ns], None);
    }

    fn get_json(&self, kind: &str, name: &str) -> Option<Value> {
        let args = ["get", kind, name, "-n", &self.namespace, "-o", "json"];
        serde_json::from_str(&self.cluster.try_kubectl(&args, None).ok()?).ok()
    }

    fn names(&self, kind: &str) -> Vec<String> {
        let out = self
            .cluster
            .kubectl(&["get", kind, "-n", &self.namespace, "-o", "name"], None);
        out.lines().map(str::to_string).collect()
    }

    /// `check --platform openshift` as this env's driver runs.
    fn check(&self) -> (bool, Vec<(String, String, String)>) {
        let ns = self.namespace.as_str();
        let args = ["--namespace", ns, "--platform", "openshift", "--scc", self.scc.as_str()];
        run_check(&self.kubeconfig, &args)
    }

    async fn stored_pod(&self, name: &str) -> Value {
        eventually(Duration::from_secs(30), "the sandbox's Pod", || async {
            self.get_json("pod", name)
        })
        .await
    }

    async fn route_host(&self, id: &str) -> String {
        let mut client = self.driver.client().await;
        let request = ResolveSandboxEndpointRequest {
            sandbox_id: id.into(),
            sandbox_name: String::new(),
        };
        client
            .resolve_sandbox_endpoint(request)
            .await
            .map(|r| r.into_inner().route_host)
            .unwrap_or_default()
    }
}

impl Drop for AdmissionEnv {
    fn drop(&mut self) {
        let ns = &self.namespace;
        let _ = self
            .cluster
            .try_kubectl(&["delete", "namespace", ns, "--wait=false"], None);
        let cluster_scoped = [
            format!("openshell-driver-{ns}"),
            format!("openshell-driver-openshift-{ns}"),
            format!("openshell-sandbox-scc-{ns}"),
        ];
        let mut args = vec!["delete", "clusterrole,clusterrolebinding"];
        args.extend(cluster_scoped.iter().map(String::as_str));
        args.extend(["--ignore-not-found", "--wait=false"]);
        let _ = self.cluster.try_kubectl(&args, None);
        let _ = self
            .cluster
            .try_kubectl(&["delete", SCC_RESOURCE, &self.scc, "--ignore-not-found"], None);
    }
}

fn exposed_request(id: &str, name: &str, expose: Value) -> DriverSandbox {
    let mut sandbox = sandbox_request(id, name);
    if let Some(template) = sandbox.spec.as_mut().and_then(|s| s.template.as_mut()) {
        template.platform_config = json_to_struct(&json!({ "expose": expose }));
    }
    sandbox
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    let containers = pod["spec"]["containers"].as_array().expect("containers");
    containers.iter().find(|c| c["name"] == name).expect(name)
}

fn env_value(container: &Value, name: &str) -> Option<String> {
    let env = container["env"].as_array()?;
    let var = env.iter().find(|e| e["name"] == name)?;
    var["value"].as_str().map(str::to_string)
}

fn strings(value: &Value) -> Vec<String> {
    let mut out: Vec<String> = (value.as_array().into_iter().flatten())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    out.sort();
    out
}

fn platform_event(event: &WatchSandboxesEvent, id: &str, reason: &str) -> Option<DriverPlatformEvent> {
    match &event.payload {
        Some(Payload::PlatformEvent(p)) if p.sandbox_id == id => p.event.clone().filter(|e| e.reason == reason),
        _ => None,
    }
}

#[tokio::test]
#[ignore = "tier 3 (OpenShift admission): needs hack/cluster/up.sh --openshift (make test-integration)"]
async fn the_pod_is_admitted_under_the_drivers_scc_with_the_namespaces_range() {
    let env = AdmissionEnv::start(None).await;
    env.grant_scc();
    let mut client = env.driver.client().await;
    let id = new_id();
    let notebook = exposed_request(&id, "nb", json!({"port": 8888, "auth": "openshift"}));
    validate_and_create(&mut client, notebook).await;

    // What OpenShift's SCC admission stored: our SCC (not anyuid, not privileged), the
    // namespace's SELinux level and groups, the supervisor's capabilities untouched.
    let pod = env.stored_pod("default--nb").await;
    let a = &env.allocation;
    assert_eq!(
        pod["metadata"]["annotations"]["openshift.io/scc"],
        env.scc.as_str(),
        "{pod}"
    );
    let security = &pod["spec"]["securityContext"];
    assert_eq!(security["seLinuxOptions"]["level"], a.mcs.as_str(), "{security}");
    assert_eq!(security["fsGroup"].to_string(), a.gid, "{security}");
    let agent = container(&pod, "agent");
    assert_eq!(
        strings(&agent["securityContext"]["capabilities"]["add"]),
        SUPERVISOR_CAPS
    );
    assert_ne!(agent["securityContext"]["privileged"], true, "{agent}");
    assert_eq!(
        env_value(agent, "OPENSHELL_SANDBOX_UID").as_deref(),
        Some(a.uid.as_str())
    );
    assert_eq!(
        env_value(agent, "OPENSHELL_SANDBOX_GID").as_deref(),
        Some(a.gid.as_str())
    );

    // The OAuth proxy sidecar passes the same SCC as a non-root UID of the namespace's range.
    let proxy = container(&pod, "oauth-proxy");
    let proxy_security = &proxy["securityContext"];
    assert_eq!(proxy_security["runAsUser"].to_string(), a.uid, "{proxy_security}");
    assert_eq!(proxy_security["runAsNonRoot"], true);
    assert_eq!(strings(&proxy_security["capabilities"]["drop"]), ["ALL"]);

    // The Route passed OpenShift's validation and got the platform's host, which is the endpoint.
    let route = env.get_json("route", "sandbox-default--nb").expect("Route stored");
    let host = format!("sandbox-default--nb-{}.{ROUTE_DOMAIN}", env.namespace);
    assert_eq!(route["spec"]["host"], host.as_str(), "{route}");
    assert_eq!(route["metadata"]["annotations"]["openshift.io/host.generated"], "true");
    eventually(Duration::from_secs(30), "the assigned host as the endpoint", || async {
        (env.route_host(&id).await == host).then_some(())
    })
    .await;
    wait_until_ready(&client, &id, READY_WITHIN).await;

    // `check` agrees: the SCC exists, admits the pod, and the ServiceAccount may use it.
    let (ok, lines) = env.check();
    let failed: Vec<_> = lines.iter().filter(|l| l.1 == "fail").collect();
    assert!(ok, "check failed: {failed:?}");
    assert_eq!(verdict_of(&lines, "scc"), Some("pass"), "{lines:?}");
}

#[tokio::test]
#[ignore = "tier 3 (OpenShift admission): needs hack/cluster/up.sh --openshift (make test-integration)"]
async fn without_the_grant_the_preflight_refuses_and_so_does_openshifts_admission() {
    let env = AdmissionEnv::start(None).await;
    let mut client = env.driver.client().await;
    let id = new_id();
    let sandbox = sandbox_request(&id, "p");

    // The driver's own preflight: FAILED_PRECONDITION before anything is written; check agrees.
    let err = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect_err("the sandbox ServiceAccount may not use the SCC");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("oc adm policy add-scc-to-user"),
        "{}",
        err.message()
    );
    let err = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect_err("create checks too");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(env.names("sandboxes").is_empty(), "nothing half-made");
    let (ok, lines) = env.check();
    assert!(!ok && verdict_of(&lines, "scc") == Some("fail"), "{lines:?}");

    // Past the preflight (granted at create, revoked while stopped): OpenShift's admission
    // refuses the new pod, and the gateway hears it as a platform event, then an error.
    env.grant_scc();
    validate_and_create(&mut client, sandbox).await;
    wait_until_ready(&client, &id, READY_WITHIN).await;
    let target = |id: &str| (id.to_string(), String::new());
    let (sandbox_id, sandbox_name) = target(&id);
    let stop = StopSandboxRequest {
        sandbox_id,
        sandbox_name,
    };
    client.stop_sandbox(stop).await.expect("stops");
    eventually(Duration::from_secs(30), "the pod gone", || async {
        env.get_json("pod", "default--p").is_none().then_some(())
    })
    .await;
    env.revoke_scc();
    let mut events = Events::open(&mut client).await;
    let (sandbox_id, sandbox_name) = target(&id);
    client
        .start_sandbox(StartSandboxRequest {
            sandbox_id,
            sandbox_name,
        })
        .await
        .expect("starts");
    let event = events
        .until(Duration::from_secs(60), |e| {
            platform_event(e, &id, "FailedCreate").is_some()
        })
        .await
        .expect("a platform event for the refused pod");
    let message = platform_event(&event, &id, "FailedCreate").expect("event").message;
    assert!(
        message.contains("unable to validate against any security context constraint") && message.contains(&env.scc),
        "{message}"
    );
    let failed = eventually(Duration::from_secs(60), "the refusal as an error", || {
        let mut client = client.clone();
        let id = id.clone();
        async move {
            let sandbox = client.get_sandbox(get_request(&id)).await.ok()?.into_inner().sandbox?;
            condition(&sandbox, "Ready")
                .filter(|c| c.reason == "FailedCreate")
                .cloned()
        }
    })
    .await;
    assert!(failed.message.contains("is forbidden"), "{failed:?}");
    assert!(env.get_json("pod", "default--p").is_none(), "no pod was admitted");
}

#[tokio::test]
#[ignore = "tier 3 (OpenShift admission): needs hack/cluster/up.sh --openshift (make test-integration)"]
async fn an_scc_without_image_volumes_refuses_image_volume_delivery_before_anything_is_written() {
    // The local API server is 1.36: `auto` delivers the supervisor by image volume, which an
    // SCC from before OpenShift 4.20 does not list. OpenShift's admission would refuse the pod
    // after the Sandbox exists; the driver's preflight refuses the create instead.
    let env = AdmissionEnv::start(None).await;
    env.grant_scc();
    let volumes = r#"[{"op": "replace", "path": "/volumes", "value": ["configMap", "downwardAPI", "emptyDir", "persistentVolumeClaim", "projected", "secret"]}]"#;
    env.cluster
        .kubectl(&["patch", SCC_RESOURCE, &env.scc, "--type=json", "-p", volumes], None);
    let mut client = env.driver.client().await;
    let sandbox = sandbox_request(&new_id(), "iv");
    let err = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect_err("the SCC does not allow image volumes");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert!(
        err.message().contains("does not allow image volumes") && err.message().contains(&env.scc),
        "{}",
        err.message()
    );
    assert!(env.names("sandboxes").is_empty(), "nothing half-made");
    let (ok, lines) = env.check();
    assert!(!ok && verdict_of(&lines, "scc") == Some("fail"), "{lines:?}");
    let detail = lines
        .iter()
        .find(|l| l.0 == "scc")
        .map(|l| l.2.clone())
        .unwrap_or_default();
    assert!(detail.contains("image volumes"), "{detail}");
}

#[tokio::test]
#[ignore = "tier 3 (OpenShift admission): needs hack/cluster/up.sh --openshift (make test-integration)"]
async fn a_custom_host_without_routes_custom_host_is_refused_and_nothing_is_left() {
    let env = AdmissionEnv::start(Some("routes/custom-host")).await;
    env.grant_scc();
    let mut client = env.driver.client().await;
    let host = format!("nb-{}.apps.example.com", env.namespace);
    let request = exposed_request(&new_id(), "nb", json!({"port": 8888, "host": host}));
    let err = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(request) })
        .await
        .expect_err("OpenShift's Route validation refuses the host");
    assert!(
        err.message()
            .contains("you do not have permission to set the host field of the route"),
        "{err:?}"
    );
    eventually(Duration::from_secs(30), "the Sandbox undone", || async {
        (env.names("sandboxes").is_empty() && env.names("routes").is_empty()).then_some(())
    })
    .await;
}

#[tokio::test]
#[ignore = "tier 3 (OpenShift admission): needs hack/cluster/up.sh --openshift (make test-integration)"]
async fn managed_mode_waits_for_the_allocator_grants_the_scc_and_the_pod_is_admitted() {
    let env = ManagedOpenShift::start(openshift_cluster(), "admm").await;
    let (cluster, scc) = (&env.cluster, &env.scc);
    let workspace_ns = format!("{}team", env.prefix);
    let mut client = env.driver.client().await;

    let id = new_id();
    let mut sandbox = sandbox_request(&id, "worker");
    sandbox.workspace = "team".into();
    validate_and_create(&mut client, sandbox).await;
    let allocation = allocation_of(cluster, &workspace_ns).await;
    let get = |kind: &str, name: &str| -> Option<Value> {
        let out = cluster
            .try_kubectl(&["get", kind, name, "-n", &workspace_ns, "-o", "json"], None)
            .ok()?;
        serde_json::from_str(&out).ok()
    };
    let cr = get("sandbox", "worker").expect("Sandbox stored");
    let agent = &cr["spec"]["podTemplate"]["spec"]["containers"][0];
    assert_eq!(
        env_value(agent, "OPENSHELL_SANDBOX_UID").as_deref(),
        Some(allocation.uid.as_str()),
        "the driver waited for the allocator's annotations"
    );
    let pod = eventually(Duration::from_secs(30), "the workspace's Pod", || async {
        get("pod", "worker")
    })
    .await;
    assert_eq!(
        pod["metadata"]["annotations"]["openshift.io/scc"],
        scc.as_str(),
        "{pod}"
    );
    assert_eq!(
        pod["spec"]["securityContext"]["seLinuxOptions"]["level"],
        allocation.mcs.as_str()
    );
    wait_until_ready(&client, &id, READY_WITHIN).await;

    let _ = client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id,
            sandbox_name: String::new(),
        })
        .await;
    let _ = cluster.try_kubectl(&["delete", "namespace", &workspace_ns, "--wait=false"], None);
}
