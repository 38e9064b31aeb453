//! Tier 1: rendering, table by table.

use std::collections::HashMap;

use serde_json::json;

use crate::config::{DriverConfig, ImagePullPolicy};
use crate::kubernetes::identity::*;
use crate::kubernetes::render::*;
use crate::proto::ResourceRequirements;
use crate::proto::json::json_to_struct;
use crate::proto::*;

const ID: &str = "0b7c56a2-6a7e-4e0c-9d55-5f3c1d2b8e01";
const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.secret-payload.sig";

fn request() -> DriverSandbox {
    DriverSandbox {
        id: ID.into(),
        name: "dev".into(),
        workspace: "team".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["/bin/bash".into(), "-l".into()],
            tty: true,
            log_level: "debug".into(),
            environment: HashMap::from([("FROM_SPEC".into(), "spec".into()), ("SHARED".into(), "spec".into())]),
            sandbox_token: TOKEN.into(),
            template: Some(DriverSandboxTemplate {
                image: "quay.io/example/agent:1".into(),
                labels: HashMap::from([("app".into(), "agent".into())]),
                environment: HashMap::from([
                    ("FROM_TEMPLATE".into(), "template".into()),
                    ("SHARED".into(), "template".into()),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn config() -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.gateway_id = "gw-test".into();
    c.gateway_endpoint = "https://gateway.openshell-system.svc:8443".into();
    c.client_tls_secret = "openshell-client-tls".into();
    c
}

fn token_file_config() -> DriverConfig {
    let mut c = config();
    c.sandbox_auth = crate::config::SandboxAuth::TokenFile;
    c
}

fn render(req: &DriverSandbox) -> RenderedSandbox {
    render_sandbox(req, &config(), SandboxApiVersion::V1beta1, &[]).expect("renders")
}

fn env_of(r: &RenderedSandbox) -> Vec<(String, String)> {
    let agent = &r.manifest.spec.pod_template.spec.containers[0];
    agent
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect()
}

fn with_template(f: impl FnOnce(&mut DriverSandboxTemplate)) -> DriverSandbox {
    let mut r = request();
    if let Some(t) = r.spec.as_mut().and_then(|s| s.template.as_mut()) {
        f(t);
    }
    r
}

#[test]
fn labels_reach_cr_and_pod_template() {
    let r = render(&request());
    let cr_labels = r.manifest.metadata.labels.clone().expect("labels");
    let pod_labels = &r.manifest.spec.pod_template.metadata.labels;
    for labels in [&cr_labels, pod_labels] {
        assert_eq!(labels[LABEL_SANDBOX_ID], ID);
        assert_eq!(labels[LABEL_SANDBOX_NAME], "dev");
        assert_eq!(labels[LABEL_WORKSPACE], "team");
        assert_eq!(labels[LABEL_MANAGED_BY], "openshell");
        assert_eq!(labels[LABEL_GATEWAY_ID], "gw-test");
        assert_eq!(labels[LABEL_KAGENTI_TYPE], "agent");
        assert_eq!(labels["app"], "agent");
    }
    assert_eq!(r.manifest.metadata.name.as_deref(), Some("team--dev"));
    assert_eq!(
        r.manifest.metadata.annotations.clone().expect("annotations")[LABEL_SANDBOX_ID],
        ID
    );
}

#[test]
fn supervisor_is_delivered_by_init_container_into_read_only_empty_dir() {
    let mut copied = config();
    copied.supervisor_sideload = crate::kubernetes::sideload::SupervisorSideload::InitContainer;
    let r = render_sandbox(&request(), &copied, SandboxApiVersion::V1beta1, &[]).expect("renders");
    let pod = &r.manifest.spec.pod_template.spec;
    let init = &pod.init_containers.as_ref().expect("init")[0];
    assert_eq!(init.image.as_deref(), Some(config().supervisor_image.as_str()));
    assert_eq!(
        init.command.clone().expect("command"),
        vec![
            "/openshell-sandbox",
            "copy-self",
            "/opt/openshell/bin/openshell-sandbox"
        ]
    );
    let volume = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .find(|v| v.name == SUPERVISOR_VOLUME)
        .expect("volume");
    assert!(volume.empty_dir.is_some() && volume.host_path.is_none());
    let agent = &pod.containers[0];
    let command = agent.command.clone().expect("command");
    assert_eq!(
        command[0], "/opt/openshell/bin/openshell-launcher",
        "the launcher execs the supervisor"
    );
    assert_eq!(
        command[4..],
        ["/opt/openshell/bin/openshell-sandbox", "--workdir", "/sandbox"]
    );
    let mount = agent
        .volume_mounts
        .as_ref()
        .expect("mounts")
        .iter()
        .find(|m| m.name == SUPERVISOR_VOLUME)
        .expect("mount");
    assert_eq!(mount.read_only, Some(true));
}

#[test]
fn agent_runs_as_root_with_four_capabilities_and_never_privileged() {
    let r = render(&request());
    let pod = &r.manifest.spec.pod_template.spec;
    let sc = pod.containers[0].security_context.clone().expect("security context");
    assert_eq!(sc.run_as_user, Some(0));
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(
        sc.capabilities.and_then(|c| c.add).expect("caps"),
        vec!["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"]
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let yaml = serde_yaml::to_string(&r.manifest).expect("yaml");
    assert!(
        !yaml.contains("privileged: true") && !yaml.contains("hostPath"),
        "{yaml}"
    );
}

#[test]
fn environment_order_and_precedence() {
    let env = env_of(&render(&request()));
    let names: Vec<_> = env.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "deterministic order");
    let mut dedup = names.clone();
    dedup.dedup();
    assert_eq!(names.len(), dedup.len(), "no duplicates");
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("SHARED").as_deref(), Some("spec"), "spec env beats template env");
    assert_eq!(get("FROM_TEMPLATE").as_deref(), Some("template"));
    assert_eq!(get("OPENSHELL_SANDBOX_ID").as_deref(), Some(ID), "driver values win");
    assert_eq!(get("OPENSHELL_SANDBOX").as_deref(), Some("dev"));
    assert_eq!(
        get("OPENSHELL_ENDPOINT").as_deref(),
        Some("https://gateway.openshell-system.svc:8443")
    );
    assert_eq!(get("OPENSHELL_LOG_LEVEL").as_deref(), Some("debug"));
    assert_eq!(
        get("OPENSHELL_K8S_SA_TOKEN_FILE").as_deref(),
        Some("/var/run/secrets/openshell/token")
    );
    let spec: serde_json::Value =
        serde_json::from_str(&get("OPENSHELL_MAIN_PROCESS_SPEC").expect("spec")).expect("json");
    assert_eq!(spec, json!({"version": 1, "command": ["/bin/bash", "-l"], "tty": true}));
}

#[test]
fn token_only_in_its_secret() {
    let render = |req: &DriverSandbox| {
        render_sandbox(req, &token_file_config(), SandboxApiVersion::V1beta1, &[]).expect("renders")
    };
    let r = render(&request());
    let manifest = serde_json::to_string(&r.manifest).expect("json");
    assert!(!manifest.contains(TOKEN), "token leaked into the Sandbox");
    let secret = r.token_secret.expect("secret");
    assert_eq!(
        secret.metadata.name.as_deref(),
        Some(r.identity.token_secret_name().as_str())
    );
    assert_eq!(secret.string_data.expect("data")[TOKEN_KEY], TOKEN);
    let meta = serde_json::to_string(&secret.metadata).expect("json");
    assert!(!meta.contains(TOKEN), "token leaked into Secret metadata");
    let volume = r
        .manifest
        .spec
        .pod_template
        .spec
        .volumes
        .expect("volumes")
        .into_iter()
        .find(|v| v.name == crate::kubernetes::supervisor::IDENTITY_VOLUME)
        .expect("token volume");
    assert_eq!(volume.secret.and_then(|s| s.default_mode), Some(0o400));

    let mut no_token = request();
    if let Some(s) = no_token.spec.as_mut() {
        s.sandbox_token.clear();
    }
    let r = render(&no_token);
    assert!(r.token_secret.is_none());
    assert!(!env_of(&r).iter().any(|(n, _)| n == "OPENSHELL_SANDBOX_TOKEN_FILE"));
}

#[test]
fn debug_output_redacts_the_token() {
    let text = format!("{:?}", request());
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("redacted"));
}

#[test]
fn resources_table() {
    type Case = (
        &'static str,
        (&'static str, &'static str, &'static str, &'static str),
        Option<Option<u32>>,
        Result<(Vec<(&'static str, &'static str)>, Vec<(&'static str, &'static str)>), &'static str>,
    );
    let cases: Vec<Case> = vec![
        ("none", ("", "", "", ""), None, Ok((vec![], vec![]))),
        (
            "request defaults to limit",
            ("", "2", "", "1Gi"),
            None,
            Ok((
                vec![("cpu", "2"), ("memory", "1Gi")],
                vec![("cpu", "2"), ("memory", "1Gi")],
            )),
        ),
        (
            "explicit",
            ("500m", "1", "", ""),
            None,
            Ok((vec![("cpu", "500m")], vec![("cpu", "1")])),
        ),
        (
            "gpu default one",
            ("", "", "", ""),
            Some(None),
            Ok((vec![], vec![(GPU_RESOURCE, "1")])),
        ),
        (
            "gpu two",
            ("", "", "", ""),
            Some(Some(2)),
            Ok((vec![], vec![(GPU_RESOURCE, "2")])),
        ),
        ("gpu zero", ("", "", "", ""), Some(Some(0)), Err("gpu.count")),
        ("bad quantity", ("lots", "", "", ""), None, Err("cpu_request")),
        ("request above limit", ("2", "1", "", ""), None, Err("above its limit")),
    ];
    for (what, (cpu_req, cpu_lim, mem_req, mem_lim), gpu, want) in cases {
        let mut req = with_template(|t| {
            t.resources = Some(DriverResourceRequirements {
                cpu_request: cpu_req.into(),
                cpu_limit: cpu_lim.into(),
                memory_request: mem_req.into(),
                memory_limit: mem_lim.into(),
            })
        });
        if let (Some(spec), Some(count)) = (req.spec.as_mut(), gpu) {
            spec.resource_requirements = Some(ResourceRequirements {
                gpu: Some(GpuResourceRequirements { count }),
            });
        }
        let result = render_sandbox(&req, &config(), SandboxApiVersion::V1beta1, &[]);
        match want {
            Ok((requests, limits)) => {
                let r = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                let res = r.manifest.spec.pod_template.spec.containers[0]
                    .resources
                    .clone()
                    .expect("resources");
                let flat = |m: Option<
                    std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
                >| {
                    m.unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect::<Vec<_>>()
                };
                let own = |v: Vec<(&str, &str)>| {
                    v.into_iter()
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect::<Vec<_>>()
                };
                assert_eq!(flat(res.requests), own(requests), "{what}: requests");
                assert_eq!(flat(res.limits), own(limits), "{what}: limits");
            }
            Err(needle) => {
                let e = result.expect_err(what);
                assert_eq!(e.code(), tonic::Code::InvalidArgument, "{what}");
                assert!(e.to_string().contains(needle), "{what}: {e}");
            }
        }
    }
}

#[test]
fn platform_and_driver_config_reach_the_pod() {
    let req = with_template(|t| {
        t.platform_config = json_to_struct(&json!({
            "runtime_class_name": "kata",
            "node_selector": {"pool": "gpu"},
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "annotations": {"example.com/owner": "ml"},
            "host_users": false,
            "resources_raw": {"limits": {"example.com/fpga": "1"}}
        }));
        t.driver_config = json_to_struct(&json!({
            "volume_mounts": [{"claim_name": "datasets", "mount_path": "/data", "read_only": true, "sub_path": "v1"}],
            "agent_resources": {"requests": {"memory": "256Mi"}, "limits": {"memory": "512Mi"}}
        }));
    });
    let r = render(&req);
    let pod = &r.manifest.spec.pod_template;
    assert_eq!(pod.spec.runtime_class_name.as_deref(), Some("kata"));
    assert_eq!(pod.spec.node_selector.clone().expect("selector")["pool"], "gpu");
    assert_eq!(pod.spec.tolerations.clone().expect("tolerations").len(), 1);
    assert_eq!(pod.spec.host_users, Some(false));
    assert_eq!(pod.metadata.annotations["example.com/owner"], "ml");
    let agent = &pod.spec.containers[0];
    let limits = agent.resources.clone().and_then(|r| r.limits).expect("limits");
    assert_eq!(limits["example.com/fpga"].0, "1");
    assert_eq!(limits["memory"].0, "512Mi");
    let volume = pod
        .spec
        .volumes
        .clone()
        .expect("volumes")
        .into_iter()
        .find(|v| v.persistent_volume_claim.is_some())
        .expect("pvc");
    assert_eq!(volume.persistent_volume_claim.expect("pvc").claim_name, "datasets");
    let mount = agent
        .volume_mounts
        .clone()
        .expect("mounts")
        .into_iter()
        .find(|m| m.mount_path == "/data")
        .expect("mount");
    assert_eq!((mount.read_only, mount.sub_path.as_deref()), (Some(true), Some("v1")));
}

#[test]
fn invalid_requests_name_the_field() {
    let cases: Vec<(DriverSandbox, &str)> = vec![
        (with_template(|t| t.image.clear()), "image"),
        (
            {
                let mut r = request();
                if let Some(s) = r.spec.as_mut() {
                    s.command.clear();
                }
                r
            },
            "command",
        ),
        (
            with_template(|t| {
                t.labels.insert("bad key!".into(), "x".into());
            }),
            "template.labels",
        ),
        (
            with_template(|t| {
                t.environment.insert("A=B".into(), "x".into());
            }),
            "template.environment",
        ),
        (
            with_template(|t| t.platform_config = json_to_struct(&json!({"nodeSelector": {}}))),
            "nodeSelector",
        ),
        // The driver's identity cannot be spoofed or overwritten by a request.
        (
            with_template(|t| {
                t.labels.insert(LABEL_SANDBOX_ID.into(), "spoofed".into());
            }),
            "template.labels: \"openshell.ai/sandbox-id\"",
        ),
        (
            with_template(|t| {
                t.platform_config = json_to_struct(&json!({"annotations": {"openshell.io/sandbox-id": "other"}}))
            }),
            "platform_config.annotations: \"openshell.io/sandbox-id\"",
        ),
        (
            with_template(|t| {
                t.environment.insert("OPENSHELL_SANDBOX_ID".into(), "spoofed".into());
            }),
            "reserved",
        ),
        (
            {
                let mut r = request();
                if let Some(s) = r.spec.as_mut() {
                    s.environment.insert("OPENSHELL_POLICY_RULES".into(), "/x".into());
                }
                r
            },
            "spec.environment keys starting with OPENSHELL_",
        ),
        (
            with_template(|t| {
                t.driver_config = json_to_struct(
                    &json!({"volume_mounts": [{"claim_name": "a", "mount_path": "/opt/openshell/bin/x"}]}),
                )
            }),
            "reserved",
        ),
    ];
    for (req, needle) in cases {
        let e = render_sandbox(&req, &config(), SandboxApiVersion::V1beta1, &[]).expect_err(needle);
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{needle}");
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn default_image_pull_settings_and_api_versions() {
    let mut cfg = config();
    cfg.default_image = "registry.example/default:1".into();
    cfg.image_pull_policy = Some(ImagePullPolicy::IfNotPresent);
    cfg.image_pull_secrets = vec!["pull".into()];
    cfg.sandbox_service_account = "openshell-sandbox".into();
    let req = with_template(|t| t.image.clear());
    let r = render_sandbox(&req, &cfg, SandboxApiVersion::V1alpha1, &[]).expect("renders");
    let pod = &r.manifest.spec.pod_template.spec;
    assert_eq!(pod.containers[0].image.as_deref(), Some("registry.example/default:1"));
    assert_eq!(pod.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(pod.image_pull_secrets.clone().expect("secrets")[0].name, "pull");
    assert_eq!(pod.service_account_name.as_deref(), Some("openshell-sandbox"));
    assert_eq!(r.manifest.api_version, "agents.x-k8s.io/v1alpha1");
    assert_eq!(
        (r.manifest.spec.replicas, r.manifest.spec.operating_mode.clone()),
        (Some(1), None)
    );
    let beta = render(&request());
    assert_eq!(
        (
            beta.manifest.spec.replicas,
            beta.manifest.spec.operating_mode.as_deref()
        ),
        (None, Some("Running"))
    );
    assert_eq!(
        SandboxApiVersion::V1beta1.running_patch(false),
        json!({"spec": {"operatingMode": "Suspended"}})
    );
    assert_eq!(
        SandboxApiVersion::V1alpha1.running_patch(false),
        json!({"spec": {"replicas": 0}})
    );
}
