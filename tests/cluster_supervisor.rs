//! Tier 3: the supervisor contract as the API server stores it, on the Pod the agent-sandbox
//! controller makes (not only the Sandbox), in both identity modes; and the configurations that
//! cannot give a supervisor what it needs, refused before anything is written.

mod common;

use std::collections::BTreeMap;

use common::cluster::CLIENT_TLS_SECRET;
use common::tier3::{Env, READY_WITHIN};
use common::*;
use k8s_openapi::api::core::v1::{Container, Pod};
use openshell_driver_openshift::proto::*;

async fn stored_pod(env: &Env, name: &str) -> Pod {
    eventually(READY_WITHIN, "the controller's Pod", || async {
        env.pods().get_opt(name).await.ok().flatten()
    })
    .await
}

fn agent(pod: &Pod) -> &Container {
    pod.spec
        .as_ref()
        .and_then(|s| s.containers.iter().find(|c| c.name == "agent"))
        .expect("agent container")
}

fn env_of(c: &Container) -> BTreeMap<String, String> {
    c.env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn mount_of(c: &Container, volume: &str) -> Option<(String, bool)> {
    c.volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == volume)
        .map(|m| (m.mount_path.clone(), m.read_only == Some(true)))
}

fn volume_of<'a>(pod: &'a Pod, name: &str) -> &'a k8s_openapi::api::core::v1::Volume {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|v| v.iter().find(|v| v.name == name))
        .unwrap_or_else(|| panic!("volume {name}"))
}

/// What both modes share: the gateway's identity checks, the supervisor's files and variables.
fn assert_common_contract(pod: &Pod, id: &str, sandbox_uid: &str) {
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(annotations.get("openshell.io/sandbox-id").map(String::as_str), Some(id));
    let owners = pod.metadata.owner_references.clone().unwrap_or_default();
    let controller: Vec<_> = owners.iter().filter(|o| o.controller == Some(true)).collect();
    assert_eq!(controller.len(), 1, "one controlling owner: {owners:?}");
    assert_eq!(controller[0].kind, "Sandbox");
    assert_eq!(controller[0].api_version, "agents.x-k8s.io/v1beta1");
    assert_eq!(
        controller[0].uid, sandbox_uid,
        "the gateway compares it with the live Sandbox"
    );

    let agent = agent(pod);
    let command = agent.command.clone().expect("command");
    // The local API server is 1.36, so `auto` mounts both images (tests/cluster_sideload.rs
    // has the init-container delivery).
    assert_eq!(command[0], "/opt/openshell/bin/launcher/openshell-launcher");
    assert_eq!(
        command[4..],
        [
            "/opt/openshell/bin/supervisor/openshell-sandbox",
            "--workdir",
            "/sandbox"
        ]
    );
    let env = env_of(agent);
    for (name, value) in [
        ("OPENSHELL_SANDBOX_ID", id),
        ("OPENSHELL_ENDPOINT", "https://gateway.test:8443"),
        ("OPENSHELL_SSH_SOCKET_PATH", "/run/openshell/ssh.sock"),
        ("OPENSHELL_TLS_CA", "/etc/openshell-tls/client/ca.crt"),
        ("OPENSHELL_TLS_CERT", "/etc/openshell-tls/client/tls.crt"),
        ("OPENSHELL_TLS_KEY", "/etc/openshell-tls/client/tls.key"),
        ("OPENSHELL_SANDBOX_UID", "1000"),
        ("OPENSHELL_SANDBOX_GID", "1000"),
        ("OPENSHELL_OCI_IMAGE_USER", ""),
        ("OPENSHELL_NETWORK_RUNTIME_CAPABILITIES", ""),
        ("OPENSHELL_USER_ENVIRONMENT", r#"{"GREETING":"hello"}"#),
        ("GREETING", "hello"),
    ] {
        assert_eq!(env.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert_eq!(
        mount_of(agent, "openshell-supervisor"),
        Some(("/opt/openshell/bin/supervisor".into(), true))
    );
    assert_eq!(mount_of(agent, "openshell-run"), Some(("/run/openshell".into(), false)));
    assert_eq!(
        mount_of(agent, "openshell-client-tls"),
        Some(("/etc/openshell-tls/client".into(), true))
    );
    assert_eq!(
        mount_of(agent, "openshell-identity"),
        Some(("/var/run/secrets/openshell".into(), true))
    );
    let tls = volume_of(pod, "openshell-client-tls")
        .secret
        .clone()
        .expect("secret volume");
    assert_eq!(tls.secret_name.as_deref(), Some(CLIENT_TLS_SECRET));
    assert_eq!(tls.default_mode, Some(0o400));

    let sc = agent.security_context.clone().expect("security context");
    assert_eq!(sc.run_as_user, Some(0));
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(
        sc.capabilities.and_then(|c| c.add).expect("caps"),
        ["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"]
    );
    let spec = pod.spec.as_ref().expect("spec");
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert!(spec.init_containers.as_ref().is_none_or(Vec::is_empty));
    assert!(volume_of(pod, "openshell-supervisor").image.is_some());
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn service_account_mode_pod_carries_the_contract_and_a_projected_token() {
    let env = Env::start().await;
    let id = new_id();
    env.create(&id, "contract").await;
    let cr = env.sandboxes().get("default--contract").await.expect("Sandbox");
    let pod = stored_pod(&env, "default--contract").await;
    assert_common_contract(&pod, &id, cr.metadata.uid.as_deref().unwrap_or_default());
    let env_vars = env_of(agent(&pod));
    assert_eq!(
        env_vars.get("OPENSHELL_K8S_SA_TOKEN_FILE").map(String::as_str),
        Some("/var/run/secrets/openshell/token")
    );
    assert!(!env_vars.contains_key("OPENSHELL_SANDBOX_TOKEN_FILE"));
    let projected = volume_of(&pod, "openshell-identity")
        .projected
        .clone()
        .expect("projected");
    let token = projected.sources.expect("sources")[0]
        .service_account_token
        .clone()
        .expect("service account token");
    assert_eq!(token.audience.as_deref(), Some("openshell-gateway"));
    assert_eq!(token.path, "token");
    assert!(token.expiration_seconds.is_some_and(|s| s >= 600));
    assert!(
        !serde_json::to_string(&pod)
            .expect("json")
            .contains("test-token.not-a-real-jwt"),
        "the gateway's token is stored nowhere in this mode"
    );
    assert!(
        env.secrets()
            .get_opt("default--contract-openshell-token")
            .await
            .expect("get")
            .is_none()
    );
    env.wait_ready(&id).await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn token_file_mode_pod_reads_the_token_from_its_own_secret() {
    let env = Env::start_with(None, &["--sandbox-auth", "token-file"]).await;
    let id = new_id();
    env.create(&id, "tokenfile").await;
    let cr = env.sandboxes().get("default--tokenfile").await.expect("Sandbox");
    let uid = cr.metadata.uid.clone().unwrap_or_default();
    let pod = stored_pod(&env, "default--tokenfile").await;
    assert_common_contract(&pod, &id, &uid);
    let env_vars = env_of(agent(&pod));
    assert_eq!(
        env_vars.get("OPENSHELL_SANDBOX_TOKEN_FILE").map(String::as_str),
        Some("/var/run/secrets/openshell/token")
    );
    assert!(!env_vars.contains_key("OPENSHELL_K8S_SA_TOKEN_FILE"));
    let secret_volume = volume_of(&pod, "openshell-identity").secret.clone().expect("secret");
    assert_eq!(
        secret_volume.secret_name.as_deref(),
        Some("default--tokenfile-openshell-token")
    );
    assert_eq!(secret_volume.default_mode, Some(0o400));
    let secret = env
        .secrets()
        .get("default--tokenfile-openshell-token")
        .await
        .expect("token Secret");
    let owner = &secret.metadata.owner_references.clone().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Sandbox", uid.as_str()));
    assert!(
        !serde_json::to_string(&pod)
            .expect("json")
            .contains("test-token.not-a-real-jwt")
    );
    env.wait_ready(&id).await;
}

async fn refused_by_both(env: &Env, sandbox: DriverSandbox, code: tonic::Code, text: &str) {
    let mut client = env.driver.client().await;
    let v = client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect_err("validate refuses");
    assert_eq!(v.code(), code, "validate: {}", v.message());
    assert!(v.message().contains(text), "validate: {}", v.message());
    let c = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect_err("create refuses");
    assert_eq!(c.code(), code, "create: {}", c.message());
    assert!(c.message().contains(text), "create: {}", c.message());
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_missing_or_incomplete_client_tls_secret_is_refused_before_anything_is_written() {
    let env = Env::start().await;
    env.cluster
        .apply_client_tls_secret(&env.namespace, &["tls.crt", "tls.key"]);
    refused_by_both(
        &env,
        sandbox_request(&new_id(), "partial"),
        tonic::Code::FailedPrecondition,
        "lacks ca.crt",
    )
    .await;
    env.cluster
        .kubectl(&["delete", "secret", CLIENT_TLS_SECRET, "-n", &env.namespace], None);
    refused_by_both(
        &env,
        sandbox_request(&new_id(), "absent"),
        tonic::Code::FailedPrecondition,
        "does not exist",
    )
    .await;
    env.assert_nothing_written().await;
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn token_file_mode_without_a_gateway_token_is_refused_at_create() {
    let env = Env::start_with(None, &["--sandbox-auth", "token-file"]).await;
    let mut sandbox = sandbox_request(&new_id(), "notoken");
    if let Some(spec) = sandbox.spec.as_mut() {
        spec.sandbox_token.clear();
    }
    let mut client = env.driver.client().await;
    // The gateway sends its token with CreateSandbox only, so Validate cannot know.
    client
        .validate_sandbox_create(ValidateSandboxCreateRequest {
            sandbox: Some(sandbox.clone()),
        })
        .await
        .expect("validate passes");
    let e = client
        .create_sandbox(CreateSandboxRequest { sandbox: Some(sandbox) })
        .await
        .expect_err("create refuses");
    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{}", e.message());
    assert!(e.message().contains("gateway_jwt"), "{}", e.message());
    env.assert_nothing_written().await;
}
