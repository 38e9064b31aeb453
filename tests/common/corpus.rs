//! The bad-input corpus: requests a new user (or a client other than the gateway) might send,
//! each with the code both RPCs must answer and a word of the message. Tier 2 runs it against the
//! in-memory provisioner, tier 3 against a real API server (and checks nothing was written).

use openshell_driver_openshift::proto::compute_driver_client::ComputeDriverClient;
use openshell_driver_openshift::proto::json::json_to_struct;
use openshell_driver_openshift::proto::*;
use serde_json::json;
use tonic::Code;
use tonic::transport::Channel;

use super::{new_id, sandbox_request, with_gpu};

pub struct BadRequest {
    pub what: &'static str,
    pub sandbox: DriverSandbox,
    pub code: Code,
    /// Appears in the message: the field, key or limit at fault.
    pub needle: &'static str,
}

impl BadRequest {
    /// ValidateSandboxCreate's and CreateSandbox's refusals.
    pub async fn refusals(&self, client: &mut ComputeDriverClient<Channel>) -> (tonic::Status, tonic::Status) {
        let v = client
            .validate_sandbox_create(ValidateSandboxCreateRequest {
                sandbox: Some(self.sandbox.clone()),
            })
            .await
            .expect_err(self.what);
        let c = client
            .create_sandbox(CreateSandboxRequest {
                sandbox: Some(self.sandbox.clone()),
            })
            .await
            .expect_err(self.what);
        (v, c)
    }

    pub fn assert_refused(&self, status: &tonic::Status) {
        assert_eq!(status.code(), self.code, "{}: {}", self.what, status.message());
        assert!(
            status.message().contains(self.needle),
            "{}: {:?} not in {}",
            self.what,
            self.needle,
            status.message()
        );
    }
}

fn edit(name: &str, f: impl FnOnce(&mut DriverSandboxSpec)) -> DriverSandbox {
    let mut sandbox = sandbox_request(&new_id(), name);
    f(sandbox.spec.as_mut().expect("spec"));
    sandbox
}

fn template(name: &str, f: impl FnOnce(&mut DriverSandboxTemplate)) -> DriverSandbox {
    edit(name, |s| f(s.template.as_mut().expect("template")))
}

fn invalid(what: &'static str, needle: &'static str, sandbox: DriverSandbox) -> BadRequest {
    BadRequest {
        what,
        sandbox,
        code: Code::InvalidArgument,
        needle,
    }
}

/// Every case of the corpus.
pub fn bad_requests() -> Vec<BadRequest> {
    let mut cases = vec![
        invalid("invalid name", "name", sandbox_request(&new_id(), "Not_A_Name")),
        invalid("name with --", "name", sandbox_request(&new_id(), "a--b")),
        invalid(
            "bad quantity",
            "cpu_limit",
            template("quantity", |t| {
                if let Some(r) = t.resources.as_mut() {
                    r.cpu_limit = "two cores".into();
                }
            }),
        ),
        invalid(
            "unknown platform_config key",
            "runtime_class",
            template("unknown", |t| {
                t.platform_config = json_to_struct(&json!({"runtime_class": "kata"}))
            }),
        ),
        invalid(
            "zero GPUs",
            "gpu.count",
            with_gpu(sandbox_request(&new_id(), "gpu"), Some(0)),
        ),
        invalid(
            "image with a space",
            "template.image",
            template("space", |t| t.image = "a b".into()),
        ),
        invalid(
            "image with an upper-case repository",
            "template.image",
            template("upper", |t| t.image = "registry.example/Agent:1".into()),
        ),
        invalid(
            "a 2 MiB environment value",
            "8192",
            edit("hugeenv", |s| {
                s.environment.insert("BIG".into(), "x".repeat(2 * 1024 * 1024));
            }),
        ),
        // Nothing bounds the command but the object it lands in: the limit and the field are named.
        invalid(
            "a Sandbox over 1 MiB",
            "1048576 bytes (1 MiB) that the API server and etcd can store; largest request fields: spec.command",
            edit("huge", |s| s.command.push("x".repeat(2 * 1024 * 1024))),
        ),
        invalid(
            "300 KiB of pod annotations",
            "262144",
            template("annotated", |t| {
                t.platform_config =
                    json_to_struct(&json!({"annotations": {"example.com/big": "v".repeat(300 * 1024)}}));
            }),
        ),
        invalid(
            "a label value with a space",
            "template.labels",
            template("label", |t| {
                t.labels.insert("team".into(), "m l".into());
            }),
        ),
        invalid(
            "an annotation key with a space",
            "platform_config.annotations",
            template("annkey", |t| {
                t.platform_config = json_to_struct(&json!({"annotations": {"bad key": "v"}}));
            }),
        ),
    ];
    cases.extend(
        rule_breaking_requests()
            .into_iter()
            .map(|(needle, sandbox)| invalid(needle, needle, sandbox)),
    );
    cases
}

/// Requests that break the gateway's own rules, as a client other than the gateway might send.
fn rule_breaking_requests() -> Vec<(&'static str, DriverSandbox)> {
    let edit = |f: &dyn Fn(&mut DriverSandboxSpec)| {
        let mut sandbox = sandbox_request(&new_id(), "rules");
        f(sandbox.spec.as_mut().expect("spec"));
        sandbox
    };
    let template = |f: &dyn Fn(&mut DriverSandboxTemplate)| edit(&|s| f(s.template.as_mut().expect("template")));
    vec![
        (
            "OPENSHELL_POLICY_RULES",
            edit(&|s| {
                s.environment
                    .insert("OPENSHELL_POLICY_RULES".into(), "/etc/p.rego".into());
            }),
        ),
        (
            "template.environment",
            template(&|t| {
                t.environment.insert("OPENSHELL_TLS_CA".into(), "/ca".into());
            }),
        ),
        (
            "newline",
            edit(&|s| {
                s.environment.insert("FOO".into(), "a\nb".into());
            }),
        ),
        (
            "^[A-Za-z_]",
            edit(&|s| {
                s.environment.insert("9LIVES".into(), "x".into());
            }),
        ),
        (
            "openshell.ai/sandbox-id",
            template(&|t| {
                t.labels.insert("openshell.ai/sandbox-id".into(), "spoofed".into());
            }),
        ),
        (
            "openshell.io/sandbox-id",
            template(&|t| {
                t.platform_config =
                    json_to_struct(&serde_json::json!({"annotations": {"openshell.io/sandbox-id": "someone-else"}}));
            }),
        ),
    ]
}
