//! Tier 3: driver-wide pod settings as the API server stores them on the controller's Pod.

mod common;

use common::tier3::{Env, READY_WITHIN};
use common::*;

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn host_gateway_ip_gives_the_pod_the_gateway_host_names() {
    let env = Env::start_with(None, &["--host-gateway-ip", "172.17.0.1"]).await;
    let id = new_id();
    env.create(&id, "aliased").await;
    let pod = env.stored_pod("default--aliased").await;
    let aliases = pod.spec.and_then(|s| s.host_aliases).expect("hostAliases stored");
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].ip, "172.17.0.1");
    assert_eq!(
        aliases[0].hostnames.clone().unwrap_or_default(),
        ["host.docker.internal", "host.openshell.internal"]
    );
    env.wait_ready(&id).await;
}

const PROXY_FLAGS: [&str; 9] = [
    "--https-proxy",
    "http://proxy.corp.example:3128",
    "--no-proxy",
    ".svc.cluster.local",
    "--proxy-auth-secret-name",
    "corp-proxy",
    "--proxy-auth-secret-key",
    "credentials",
    "--proxy-auth-allow-insecure",
];

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn the_corporate_proxy_reaches_the_supervisor_as_arguments_and_its_credential_as_a_file() {
    let env = Env::start_with(None, &PROXY_FLAGS).await;
    let secret = "proxy-user:s3cr3t-proxy-pass";
    env.cluster.kubectl(
        &[
            "-n",
            &env.namespace,
            "create",
            "secret",
            "generic",
            "corp-proxy",
            &format!("--from-literal=credentials={secret}"),
        ],
        None,
    );
    let id = new_id();
    env.create(&id, "proxied").await;
    let pod = env.stored_pod("default--proxied").await;
    let spec = pod.spec.clone().expect("spec");
    let agent = &spec.containers[0];
    let command = agent.command.clone().unwrap_or_default();
    let at = command
        .iter()
        .position(|a| a == "--upstream-proxy")
        .expect("--upstream-proxy");
    assert_eq!(
        command[at..],
        [
            "--upstream-proxy",
            "http://proxy.corp.example:3128",
            "--upstream-no-proxy",
            ".svc.cluster.local",
            "--upstream-proxy-auth-file",
            "/etc/openshell/auth/upstream-proxy",
            "--upstream-proxy-auth-allow-insecure",
        ]
    );
    let volume = spec
        .volumes
        .unwrap_or_default()
        .into_iter()
        .find(|v| v.name == "openshell-upstream-proxy-auth")
        .and_then(|v| v.secret)
        .expect("the credential's Secret volume");
    assert_eq!(volume.secret_name.as_deref(), Some("corp-proxy"));
    assert_eq!(volume.default_mode, Some(0o400));
    let items = volume.items.unwrap_or_default();
    assert_eq!(
        (items[0].key.as_str(), items[0].path.as_str()),
        ("credentials", "upstream-proxy")
    );
    let mount = agent
        .volume_mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .find(|m| m.name == "openshell-upstream-proxy-auth")
        .expect("mounted");
    assert_eq!(
        (mount.mount_path.as_str(), mount.read_only),
        ("/etc/openshell/auth", Some(true))
    );
    // The credential is nowhere in the stored Pod or Sandbox, nor in the driver's log.
    let sandbox = env.sandboxes().get("default--proxied").await.expect("sandbox");
    let stored = format!(
        "{}{}",
        serde_json::to_string(&pod).expect("json"),
        serde_json::to_string(&sandbox).expect("json")
    );
    assert!(!stored.contains("s3cr3t") && !env.driver.log().contains("s3cr3t"));
    env.wait_ready(&id).await;

    // `check` finds the Secret and its key, and fails a key that is not there.
    let (_, lines) = run_check(
        &env.cluster.kubeconfig,
        &[&["--namespace", &env.namespace][..], &PROXY_FLAGS].concat(),
    );
    assert_eq!(verdict_of(&lines, "upstream-proxy"), Some("pass"), "{lines:?}");
    let detail = &lines.iter().find(|l| l.0 == "upstream-proxy").expect("line").2;
    assert!(!detail.contains("s3cr3t"), "{detail}");
    let mut wrong_key = PROXY_FLAGS.to_vec();
    wrong_key[7] = "password";
    let (ok, lines) = run_check(
        &env.cluster.kubeconfig,
        &[&["--namespace", &env.namespace][..], &wrong_key].concat(),
    );
    assert!(!ok);
    assert_eq!(verdict_of(&lines, "upstream-proxy"), Some("fail"), "{lines:?}");
    let mut wrong_name = PROXY_FLAGS.to_vec();
    wrong_name[5] = "no-such-secret";
    let (_, lines) = run_check(
        &env.cluster.kubeconfig,
        &[&["--namespace", &env.namespace][..], &wrong_name].concat(),
    );
    assert_eq!(verdict_of(&lines, "upstream-proxy"), Some("fail"), "{lines:?}");
}

fn with_platform_config(
    id: &str,
    name: &str,
    platform: serde_json::Value,
) -> openshell_driver_openshift::proto::DriverSandbox {
    let mut request = sandbox_request(id, name);
    let template = request
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .expect("template");
    template.platform_config = openshell_driver_openshift::proto::json::json_to_struct(&platform);
    request
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn user_namespaces_and_app_armor_by_default_and_per_sandbox() {
    use openshell_driver_openshift::proto::{CreateSandboxRequest, ValidateSandboxCreateRequest};
    let env = Env::start_with(None, &["--enable-user-namespaces", "--app-armor-profile", "unconfined"]).await;
    let mut client = env.driver.client().await;
    let agent_of = |pod: &k8s_openapi::api::core::v1::Pod| {
        let spec = pod.spec.clone().expect("spec");
        let sc = spec.containers[0].security_context.clone().expect("securityContext");
        let caps = sc.capabilities.and_then(|c| c.add).unwrap_or_default();
        (spec.host_users, caps, sc.app_armor_profile.map(|p| p.type_))
    };
    // The driver's defaults.
    let id = new_id();
    validate_and_create(&mut client, sandbox_request(&id, "userns")).await;
    let (users, caps, armor) = agent_of(&env.stored_pod("default--userns").await);
    assert_eq!(users, Some(false));
    for cap in ["SETUID", "SETGID", "DAC_READ_SEARCH"] {
        assert!(caps.contains(&cap.to_string()), "{caps:?}");
    }
    assert_eq!(armor.as_deref(), Some("Unconfined"));
    // One sandbox's own choice wins over both.
    let own = new_id();
    let request = with_platform_config(
        &own,
        "hostns",
        serde_json::json!({"host_users": true, "app_armor_profile": "runtime-default"}),
    );
    validate_and_create(&mut client, request).await;
    let (users, caps, armor) = agent_of(&env.stored_pod("default--hostns").await);
    assert_eq!(users, Some(true));
    assert_eq!(caps, ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"]);
    assert_eq!(armor.as_deref(), Some("RuntimeDefault"));
    // A bad profile is INVALID_ARGUMENT naming the key, from both RPCs, and nothing is written.
    let bad = with_platform_config(
        &new_id(),
        "badarmor",
        serde_json::json!({"app_armor_profile": "strict"}),
    );
    let validate = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(bad.clone()),
        })
        .await
        .expect_err("refused");
    let create = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(bad) })
        .await
        .expect_err("refused");
    for status in [validate, create] {
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(
            status.message().contains("platform_config.app_armor_profile"),
            "{}",
            status.message()
        );
    }
    assert!(
        env.sandboxes()
            .get_opt("default--badarmor")
            .await
            .expect("get")
            .is_none()
    );
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn gateway_only_ingress_is_a_network_policy_owned_by_the_sandbox() {
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use kube::api::Api;
    use openshell_driver_openshift::proto::DeleteSandboxRequest;
    let flags = [
        "--gateway-ingress-only",
        "--gateway-namespace",
        "openshell-gateway-ns",
        "--gateway-pod-selector",
        "app.kubernetes.io/name=openshell-gateway",
    ];
    let env = Env::start_with(None, &flags).await;
    let id = new_id();
    env.create(&id, "fenced").await;
    let policies: Api<NetworkPolicy> = Api::namespaced(env.kube.clone(), &env.namespace);
    let policy = policies
        .get("default--fenced-gateway-ingress")
        .await
        .expect("the stored NetworkPolicy");
    let sandbox = env.sandboxes().get("default--fenced").await.expect("sandbox");
    let owner = &policy.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Sandbox", "default--fenced")
    );
    assert_eq!(Some(owner.uid.clone()), sandbox.metadata.uid);
    let spec = policy.spec.clone().expect("spec");
    let selected = spec.pod_selector.and_then(|s| s.match_labels).unwrap_or_default();
    assert_eq!(selected.get("openshell.ai/sandbox-id"), Some(&id));
    // The controller's Pod carries the label the policy selects.
    let pod = env.stored_pod("default--fenced").await;
    assert_eq!(
        pod.metadata.labels.unwrap_or_default().get("openshell.ai/sandbox-id"),
        Some(&id)
    );
    assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
    let rule = &spec.ingress.expect("ingress")[0];
    let peer = &rule.from.clone().expect("from")[0];
    let labels = |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.clone().and_then(|s| s.match_labels).unwrap_or_default()
    };
    assert_eq!(
        labels(&peer.namespace_selector)
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("openshell-gateway-ns")
    );
    assert_eq!(
        labels(&peer.pod_selector)
            .get("app.kubernetes.io/name")
            .map(String::as_str),
        Some("openshell-gateway")
    );
    let port = &rule.ports.clone().expect("ports")[0];
    assert_eq!(
        (port.port.clone(), port.protocol.as_deref()),
        (Some(IntOrString::Int(2222)), Some("TCP"))
    );

    // `check` asks for the right to create it, under deploy/rbac.yaml (the driver's identity).
    let kubeconfig = env._dir.path().join(format!("driver-{}.kubeconfig", env.namespace));
    let ns = ["--namespace", env.namespace.as_str()];
    let (_, lines) = run_check(&kubeconfig, &[&ns[..], &flags].concat());
    let name = format!(
        "permission create networkpolicies.networking.k8s.io in {}",
        env.namespace
    );
    assert_eq!(verdict_of(&lines, &name), Some("pass"), "{lines:?}");
    let (_, lines) = run_check(&kubeconfig, &ns);
    assert_eq!(
        verdict_of(&lines, &name),
        None,
        "not asked without --gateway-ingress-only"
    );

    // Deleting the sandbox takes the policy with it (garbage collection).
    let mut client = env.driver.client().await;
    client
        .delete_sandbox(DeleteSandboxRequest {
            sandbox_id: id.clone(),
            sandbox_name: "fenced".into(),
        })
        .await
        .expect("deletes");
    eventually(READY_WITHIN, "the NetworkPolicy garbage-collected", || async {
        policies
            .get_opt("default--fenced-gateway-ingress")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}
