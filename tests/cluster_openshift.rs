//! Tier 3 on OpenShift's APIs: the local kube-apiserver serves SecurityContextConstraints and
//! Routes from OpenShift's own CRDs (github.com/openshift/api, `OPENSHIFT_CRDS`), namespaces carry
//! OpenShift's SCC annotations, and the driver runs as a ServiceAccount bound to exactly
//! deploy/rbac.yaml plus deploy/openshift/rbac.yaml. OpenShift's admission does not run on this
//! cluster (tests/cluster_openshift_admission.rs is the tier where it does); a test writes the
//! router's Route status itself.

mod common;

use std::time::Duration;

use common::cluster::Cluster;
use common::openshift::ManagedOpenShift;
use common::openshift_env::*;
use common::*;
use openshell_driver_openshift::proto::watch_sandboxes_event::Payload;
use openshell_driver_openshift::proto::*;
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn openshift_mode_sccs_selinux_routes_and_the_oauth_proxy() {
    // --platform auto: the driver must discover the SCC API to do any of this.
    let env = OpenShiftEnv::start(
        &["--platform", "auto", "--selinux-type", "openshell_agent_t"],
        Some("openshell_agent_t"),
        true,
    )
    .await;
    let ns = env.namespace.clone();
    let mut client = env.driver.client().await;
    let notebook_id = new_id();
    let host = format!("nb-{ns}.apps.example.com");
    let notebook = exposed_request(
        &notebook_id,
        "nb",
        json!({"port": 8888, "auth": "openshift", "host": host}),
    );

    // Without the SCC grant: refused up front, with the command that fixes it, and nothing made.
    let err = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(notebook.clone()),
        })
        .await
        .expect_err("the sandbox ServiceAccount may not use the SCC yet");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let fix = format!("oc adm policy add-scc-to-user {} -z default -n {ns}", env.scc);
    assert!(err.message().contains(&fix), "{}", err.message());
    let err = client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(notebook.clone()),
        })
        .await
        .expect_err("create checks too");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(env.names("sandboxes").is_empty(), "nothing half-made");

    // With the grant (the SubjectAccessReview now allows `use`), both sandboxes go through.
    env.grant_scc();
    let web_id = new_id();
    let web = exposed_request(&web_id, "web", json!({"port": 8080}));
    for sandbox in [&notebook, &web] {
        validate_and_create(&mut client, sandbox.clone()).await;
    }

    // The Sandbox the API server stored: SCC annotation, UID/GID, SELinux, the proxy sidecar.
    let cr = env.get_json("sandbox", "default--nb").expect("Sandbox stored");
    let template = &cr["spec"]["podTemplate"];
    assert_eq!(
        template["metadata"]["annotations"]["openshift.io/required-scc"],
        env.scc.as_str()
    );
    let agent = &template["spec"]["containers"][0];
    assert_eq!(env_value(agent, "OPENSHELL_SANDBOX_UID").as_deref(), Some("1000680000"));
    assert_eq!(env_value(agent, "OPENSHELL_SANDBOX_GID").as_deref(), Some("1000690000"));
    assert_eq!(
        agent["securityContext"]["seLinuxOptions"],
        json!({"type": "openshell_agent_t", "level": MCS})
    );
    let proxy = &template["spec"]["containers"][1];
    assert_eq!(proxy["name"], "oauth-proxy");
    assert!(
        proxy["args"]
            .as_array()
            .expect("args")
            .contains(&json!("--upstream=http://localhost:8888"))
    );

    // Its Route, Service and cookie Secret, owned by it; the ServiceAccount is an OAuth client.
    let uid = cr["metadata"]["uid"].as_str().expect("uid").to_string();
    let route = env.get_json("route", "sandbox-default--nb").expect("Route stored");
    assert_eq!(route["spec"]["tls"]["termination"], "reencrypt");
    assert_eq!(route["spec"]["host"], host.as_str());
    assert_eq!(route["spec"]["port"]["targetPort"], "oauth-proxy");
    let service = env.get_json("service", "sandbox-default--nb").expect("Service stored");
    assert_eq!(
        service["metadata"]["annotations"]["service.beta.openshift.io/serving-cert-secret-name"],
        "default--nb-oauth-tls"
    );
    let cookie = env
        .get_json("secret", "default--nb-oauth-cookie")
        .expect("cookie Secret");
    for owned in [&route, &service, &cookie] {
        assert_eq!(owner_uid(owned), Some(uid.as_str()), "{}", owned["kind"]);
    }
    let redirect_key = "serviceaccounts.openshift.io/oauth-redirectreference.default--nb";
    let account = env
        .get_json("serviceaccount", "default")
        .expect("default ServiceAccount");
    let reference: Value = serde_json::from_str(
        account["metadata"]["annotations"][redirect_key]
            .as_str()
            .expect("redirect annotation"),
    )
    .expect("json");
    assert_eq!(reference["reference"]["name"], "sandbox-default--nb");
    let web_route = env.get_json("route", "sandbox-default--web").expect("web Route");
    assert_eq!(web_route["spec"]["tls"]["termination"], "edge");
    assert!(web_route["spec"]["host"].is_null(), "the router picks the host");

    // ResolveSandboxEndpoint reports the Route's host.
    env.wait_ready(&notebook_id).await;
    env.wait_ready(&web_id).await;
    eventually(Duration::from_secs(30), "the notebook's route host", || async {
        (env.route_host(&notebook_id).await == host).then_some(())
    })
    .await;

    // A router admits the web Route under a host it chose, then another refuses it.
    let admitted = format!("web-{ns}.apps.example.com");
    let admitted_by_default = json!({"host": admitted, "routerName": "default",
        "conditions": [{"type": "Admitted", "status": "True"}]});
    env.set_route_status("sandbox-default--web", json!([admitted_by_default.clone()]));
    eventually(Duration::from_secs(30), "the admitted host", || async {
        (env.route_host(&web_id).await == admitted).then_some(())
    })
    .await;
    let mut events = Events::open(&mut client).await;
    let refused = json!({"host": admitted, "routerName": "internal",
        "conditions": [{"type": "Admitted", "status": "False", "reason": "HostAlreadyClaimed",
                        "message": "a route in another namespace holds the host"}]});
    env.set_route_status("sandbox-default--web", json!([admitted_by_default, refused]));
    let event = events
        .until(Duration::from_secs(30), |e| {
            matches!(&e.payload, Some(Payload::PlatformEvent(p))
                if p.sandbox_id == web_id && p.event.as_ref().is_some_and(|ev| ev.reason == "RouteNotAdmitted"))
        })
        .await
        .expect("a platform event for the refused Route");
    let Some(Payload::PlatformEvent(p)) = event.payload else {
        unreachable!()
    };
    let message = p.event.expect("event").message;
    assert!(
        message.contains("internal") && message.contains("HostAlreadyClaimed"),
        "{message}"
    );

    // Delete: the garbage collector takes Route, Service and cookie Secret; the driver removes
    // the redirect annotation from the ServiceAccount it does not own.
    for id in [&notebook_id, &web_id] {
        let deleted = client
            .delete_sandbox(DeleteSandboxRequest {
                sandbox_id: id.to_string(),
                sandbox_name: String::new(),
            })
            .await
            .expect("deletes")
            .into_inner();
        assert!(deleted.deleted);
    }
    eventually(GC_WITHIN, "Routes, Services and cookie Secret collected", || async {
        let left = [
            env.get_json("route", "sandbox-default--nb"),
            env.get_json("route", "sandbox-default--web"),
            env.get_json("service", "sandbox-default--nb"),
            env.get_json("service", "sandbox-default--web"),
            env.get_json("secret", "default--nb-oauth-cookie"),
        ];
        left.iter().all(Option::is_none).then_some(())
    })
    .await;
    let account = env
        .get_json("serviceaccount", "default")
        .expect("default ServiceAccount");
    assert!(account["metadata"]["annotations"][redirect_key].is_null(), "{account}");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn vanilla_mode_adds_none_of_it_and_refuses_exposure() {
    // The same cluster, the same annotated namespace, the plain Kubernetes RBAC.
    let env = OpenShiftEnv::start(&["--platform", "kubernetes"], None, false).await;
    let mut client = env.driver.client().await;
    let exposed = exposed_request(&new_id(), "web", json!({"port": 8080}));
    let err = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(exposed.clone()),
        })
        .await
        .expect_err("no Routes on plain Kubernetes");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(err.message().contains("plain Kubernetes"), "{}", err.message());
    let err = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(exposed) })
        .await
        .expect_err("create refuses too");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(env.names("sandboxes").is_empty(), "nothing half-made");

    let id = new_id();
    client
        .create_sandbox(CreateSandboxRequest {
            sandbox: Some(sandbox_request(&id, "plain")),
        })
        .await
        .expect("creates");
    env.wait_ready(&id).await;
    let cr = env.get_json("sandbox", "default--plain").expect("Sandbox stored");
    let stored = cr["spec"]["podTemplate"].to_string();
    for absent in ["openshift.io/required-scc", "seLinuxOptions", "oauth-proxy"] {
        assert!(!stored.contains(absent), "{absent} in {stored}");
    }
    // The namespace's UID range is OpenShift's; plain Kubernetes keeps the driver's default.
    assert!(
        stored.contains(r#"{"name":"OPENSHELL_SANDBOX_UID","value":"1000"}"#),
        "{stored}"
    );
    assert!(env.names("routes").is_empty());
    assert_eq!(env.route_host(&id).await, "");
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn malformed_annotations_and_an_scc_that_would_not_admit_are_preconditions() {
    // The SCC keeps MustRunAs without a type, so it cannot admit --selinux-type.
    let env = OpenShiftEnv::start(
        &["--platform", "openshift", "--selinux-type", "openshell_agent_t"],
        None,
        true,
    )
    .await;
    env.grant_scc();
    let ns = env.namespace.clone();
    let client = env.driver.client().await;
    let validate = |sandbox: DriverSandbox| {
        let mut client = client.clone();
        async move {
            client
                .validate_sandbox_create(ValidateSandboxCreateRequest { sandbox: Some(sandbox) })
                .await
        }
    };
    env.cluster.kubectl(
        &[
            "annotate",
            "namespace",
            &ns,
            "--overwrite",
            "openshift.io/sa.scc.uid-range=1000680000",
        ],
        None,
    );
    let err = validate(sandbox_request(&new_id(), "a")).await.expect_err("malformed");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains("openshift.io/sa.scc.uid-range") && err.message().contains(&ns),
        "{}",
        err.message()
    );

    env.cluster.kubectl(
        &[
            "annotate",
            "namespace",
            &ns,
            "--overwrite",
            &format!("openshift.io/sa.scc.uid-range={UID_RANGE}"),
        ],
        None,
    );
    let err = validate(sandbox_request(&new_id(), "a"))
        .await
        .expect_err("SCC cannot admit the type");
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains("would not admit") && err.message().contains("openshell_agent_t"),
        "{}",
        err.message()
    );

    // `check` sees the same SCC problem, and the OpenShift permissions of deploy/openshift/rbac.yaml.
    let args = [
        "--namespace",
        ns.as_str(),
        "--platform",
        "openshift",
        "--scc",
        env.scc.as_str(),
    ];
    let (ok, lines) = run_check(
        &env.kubeconfig,
        &[&args[..], &["--selinux-type", "openshell_agent_t"]].concat(),
    );
    assert!(!ok, "{lines:?}");
    let scc_line = lines.iter().find(|l| l.0 == "scc").expect("an scc line");
    assert!(
        scc_line.1 == "fail" && scc_line.2.contains("would not admit"),
        "{scc_line:?}"
    );
    let (ok, lines) = run_check(&env.kubeconfig, &args);
    let failed: Vec<_> = lines.iter().filter(|l| l.1 == "fail").collect();
    assert!(ok, "check failed: {failed:?}");
    for wanted in [
        "subjectaccessreviews",
        "routes.route.openshift.io",
        "securitycontextconstraints",
    ] {
        assert!(
            lines.iter().any(|l| l.0.contains(wanted) && l.1 == "pass"),
            "{wanted} not checked: {lines:?}"
        );
    }
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn managed_mode_grants_the_scc_in_each_workspace_it_makes() {
    let cluster = Cluster::from_env();
    install_openshift_apis(&cluster);
    let env = ManagedOpenShift::start(cluster, "ocpm").await;
    let (cluster, scc, grant_role) = (&env.cluster, &env.scc, &env.grant_role);
    let workspace_ns = format!("{}team", env.prefix);
    let mut client = env.driver.client().await;

    // OpenShift annotates a new namespace shortly after it is made; here the test does.
    let allocator = {
        let (kubeconfig, kubectl, ns) = (
            cluster.kubeconfig.clone(),
            cluster.kubectl.clone(),
            workspace_ns.clone(),
        );
        std::thread::spawn(move || {
            let cluster = Cluster { kubeconfig, kubectl };
            for _ in 0..200 {
                let annotation = format!("openshift.io/sa.scc.uid-range={UID_RANGE}");
                if cluster
                    .try_kubectl(&["annotate", "namespace", &ns, &annotation], None)
                    .is_ok()
                {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            false
        })
    };
    let id = new_id();
    let mut sandbox = sandbox_request(&id, "worker");
    sandbox.workspace = "team".into();
    // Validates before the workspace exists (the create grants the SCC), then creates.
    validate_and_create(&mut client, sandbox).await;
    assert!(allocator.join().expect("allocator"), "the namespace appeared");

    let binding: Value = serde_json::from_str(&cluster.kubectl(
        &[
            "get",
            "rolebinding",
            "openshell-sandbox-scc",
            "-n",
            &workspace_ns,
            "-o",
            "json",
        ],
        None,
    ))
    .expect("json");
    assert_eq!(binding["roleRef"]["name"], grant_role.as_str());
    assert_eq!(binding["subjects"][0]["name"], "openshell-sandbox");
    let cr: Value =
        serde_json::from_str(&cluster.kubectl(&["get", "sandbox", "worker", "-n", &workspace_ns, "-o", "json"], None))
            .expect("json");
    let template = &cr["spec"]["podTemplate"];
    assert_eq!(
        template["metadata"]["annotations"]["openshift.io/required-scc"],
        scc.as_str()
    );
    assert_eq!(
        env_value(&template["spec"]["containers"][0], "OPENSHELL_SANDBOX_UID").as_deref(),
        Some("1000680000"),
        "the annotation OpenShift adds after the namespace is made is waited for"
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

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn selinux_type_detected_from_a_node_label_pins_the_pod_there() {
    // A label key of this test's own, so that no other test sees it.
    let key = format!("selinux.openshell.test/{}", &new_id()[..8]);
    let cluster = Cluster::from_env();
    cluster.kubectl(&["label", "node", "node-gpu", &format!("{key}=detected_agent_t")], None);
    let env = OpenShiftEnv::start(
        &["--platform", "openshift", "--selinux-detect-label", &key],
        Some("detected_agent_t"),
        true,
    )
    .await;
    env.grant_scc();
    let mut client = env.driver.client().await;
    let id = new_id();
    validate_and_create(&mut client, sandbox_request(&id, "labelled")).await;
    env.wait_ready(&id).await;
    let cr = env.get_json("sandbox", "default--labelled").expect("Sandbox stored");
    let spec = &cr["spec"]["podTemplate"]["spec"];
    assert_eq!(spec["nodeSelector"][&key], "detected_agent_t");
    assert_eq!(
        spec["containers"][0]["securityContext"]["seLinuxOptions"],
        json!({"type": "detected_agent_t", "level": MCS})
    );
    let pod = env.get_json("pod", "default--labelled").expect("Pod");
    assert_eq!(pod["spec"]["nodeName"], "node-gpu", "scheduled where the policy is");
    cluster.kubectl(&["label", "node", "node-gpu", &format!("{key}-")], None);
}
