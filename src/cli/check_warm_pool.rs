//! `check` lines for `--warm-pool-config`: each profile read, its member rendered as the driver
//! would render it, and the member's Sandbox sent to the API server as a dry run (schema and
//! admission of the Sandbox; the pod's own admission happens when the controller makes it).

use kube::api::{Api, DynamicObject, PostParams};

use crate::cli::check_line::{CheckLine, Verdict, line};
use crate::config::DriverConfig;
use crate::kubernetes::client::{KubeCalls, sandbox_resource};
use crate::kubernetes::render::SandboxApiVersion;
use crate::kubernetes::warm_pool::{load, member::render_member};
use crate::openshift::enricher::PLATFORM_CONFIG_KEYS;

const CHECK: &str = "warm-pool";
/// The dry run's member name (nothing is stored).
const CHECK_MEMBER: &str = "warm-check";

pub(crate) async fn warm_pool_lines(
    kube: &KubeCalls,
    config: &DriverConfig,
    served: Option<SandboxApiVersion>,
) -> Vec<CheckLine> {
    if config.warm_pool_config.is_empty() {
        return vec![line(CHECK, Verdict::Pass, "off (no --warm-pool-config)")];
    }
    let profiles = match load(config, PLATFORM_CONFIG_KEYS) {
        Ok(p) if p.is_empty() => return vec![line(CHECK, Verdict::Warn, "the file has no profiles")],
        Ok(p) => p,
        Err(e) => return vec![line(CHECK, Verdict::Fail, e)],
    };
    let version = served.unwrap_or(SandboxApiVersion::V1beta1);
    let mut lines = Vec::new();
    for profile in &profiles {
        let what = format!("{CHECK} {}", profile.name);
        let member = match render_member(profile, config, version, PLATFORM_CONFIG_KEYS, CHECK_MEMBER) {
            Ok(m) => m,
            Err(e) => {
                lines.push(line(&what, Verdict::Fail, e.to_string()));
                continue;
            }
        };
        let namespace = member.manifest.metadata.namespace.clone().unwrap_or_default();
        let summary = format!("{} members in {namespace}, pod key {}", profile.size, member.key);
        if served.is_none() {
            lines.push(line(
                &what,
                Verdict::Warn,
                format!("{summary}; renders, not sent (no Sandbox API)"),
            ));
            continue;
        }
        let object: Result<DynamicObject, _> = serde_json::to_value(&member.manifest).and_then(serde_json::from_value);
        let Ok(object) = object else {
            lines.push(line(&what, Verdict::Fail, "the member does not encode as a Sandbox"));
            continue;
        };
        let api: Api<DynamicObject> = Api::namespaced_with(kube.client.clone(), &namespace, &sandbox_resource(version));
        let dry_run = PostParams {
            dry_run: true,
            ..Default::default()
        };
        lines.push(
            match kube.call("create", "sandboxes", api.create(&dry_run, &object)).await {
                Ok(_) => line(
                    &what,
                    Verdict::Pass,
                    format!("{summary}; the member's Sandbox is admitted (dry run)"),
                ),
                Err(e) => line(
                    &what,
                    Verdict::Fail,
                    format!("{summary}; the member's Sandbox is refused: {e}"),
                ),
            },
        );
    }
    lines
}
