//! Tier 3: expiry on the real agent-sandbox controller. A sandbox's TTL becomes its
//! `spec.shutdownTime`; when it passes, the controller removes the pod and the driver reports
//! the sandbox stopped with reason SandboxExpired (not an error), refuses to start it again, and
//! with `--expiry-policy delete` reports it deleted.

mod common;

use std::time::Duration;

use common::tier3::Env;
use common::*;
use openshell_driver_openshift::proto::json::json_to_struct;
use openshell_driver_openshift::proto::phase::gateway_phase;
use openshell_driver_openshift::proto::*;

fn expiring(id: &str, name: &str, ttl: &str) -> DriverSandbox {
    let mut sandbox = sandbox_request(id, name);
    let template = sandbox
        .spec
        .as_mut()
        .and_then(|s| s.template.as_mut())
        .expect("template");
    template.driver_config = Some(json_to_struct(&serde_json::json!({"ttl": ttl})).expect("object"));
    sandbox
}

const EXPIRES_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn an_expired_sandbox_is_stopped_with_its_reason_and_cannot_start() {
    let env = Env::start().await;
    let mut client = env.driver.client().await;
    let id = new_id();
    validate_and_create(&mut client, expiring(&id, "brief", "8s")).await;
    let cr = env.sandboxes().get("default--brief").await.expect("Sandbox");
    let spec = &cr.data["spec"];
    assert_eq!(spec["shutdownPolicy"], "Retain");
    let at: k8s_openapi::jiff::Timestamp = spec["shutdownTime"]
        .as_str()
        .expect("shutdownTime stored")
        .parse()
        .expect("RFC 3339");
    let created: k8s_openapi::jiff::Timestamp = cr.metadata.creation_timestamp.as_ref().expect("created").0;
    let lives = at.as_second() - created.as_second();
    assert!((7..=9).contains(&lives), "create + 8s, to the second: {lives}");
    env.wait_ready(&id).await;

    let expired = eventually(EXPIRES_WITHIN, "the sandbox expired", || async {
        let sandbox = env.get(&id).await.ok()?;
        (gateway_phase(&sandbox) == "stopped").then_some(sandbox)
    })
    .await;
    let conditions = &expired.status.as_ref().expect("status").conditions;
    let ready = conditions.iter().find(|c| c.r#type == "Ready").expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SandboxExpired")
    );
    let suspended = conditions.iter().find(|c| c.r#type == "Suspended").expect("Suspended");
    assert_eq!(suspended.reason, "SandboxExpired");
    eventually(EXPIRES_WITHIN, "the pod removed", || async {
        env.pods().get_opt("default--brief").await.ok()?.is_none().then_some(())
    })
    .await;
    let refused = client
        .start_sandbox(StartSandboxRequest {
            sandbox_id: id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("an expired sandbox does not start");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition, "{}", refused.message());
    assert!(refused.message().contains("expired"), "{}", refused.message());
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn with_the_delete_policy_an_expired_sandbox_is_reported_deleted() {
    let env = Env::start_with(None, &["--default-ttl", "6s", "--expiry-policy", "delete"]).await;
    let mut client = env.driver.client().await;
    let mut watch = Events::open(&mut client).await;
    let id = new_id();
    env.create(&id, "gone").await;
    let cr = env.sandboxes().get("default--gone").await.expect("Sandbox");
    assert_eq!(
        cr.data["spec"]["shutdownPolicy"], "Delete",
        "the driver's default TTL applies"
    );
    watch
        .until(EXPIRES_WITHIN, |e| deleted_id(e) == Some(id.as_str()))
        .await
        .expect("a deleted event for the expired sandbox");
    let gone = env.get(&id).await.expect_err("deleted");
    assert_eq!(gone.code(), tonic::Code::NotFound);
}

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn a_bad_ttl_is_refused_naming_it_and_nothing_is_written() {
    let env = Env::start().await;
    let mut client = env.driver.client().await;
    for ttl in ["soon", "0s"] {
        let err = client
            .create_sandbox(CreateSandboxRequest {
                sandbox: Some(expiring(&new_id(), "bad", ttl)),
            })
            .await
            .expect_err(ttl);
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("driver_config.ttl"), "{}", err.message());
    }
    env.assert_nothing_written().await;
}
