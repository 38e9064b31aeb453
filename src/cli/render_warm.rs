//! `render --warm-pool-config`: after the cold rendering, whether the request would bind a
//! warm member, and if so the member's Sandbox and what the bind writes into it. Secret values
//! (the token, the per-sandbox environment) are shown by name only.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Secret;

use crate::config::DriverConfig;
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion};
use crate::kubernetes::warm_pool::key::pod_key;
use crate::kubernetes::warm_pool::load;
use crate::kubernetes::warm_pool::member::{
    BoundMember, bind, into_member, member_name_for, member_request, stamp_max_age,
};
use crate::openshift::enricher::PLATFORM_CONFIG_KEYS;
use crate::warm_identity::{ENVIRONMENT_FILE, SANDBOX_ID_FILE, decode_environment};

/// Offline there is no member: its uid and resourceVersion are shown as placeholders.
const OFFLINE_UID: &str = "<member uid>";

/// `render` renders a request as `render` does for a create (enriched offline), so that a
/// member and the create are keyed alike.
pub(crate) fn warm_section(
    cold: &RenderedSandbox,
    driver: &DriverConfig,
    api: SandboxApiVersion,
    now: k8s_openapi::jiff::Timestamp,
    render: impl Fn(&crate::proto::DriverSandbox) -> anyhow::Result<RenderedSandbox>,
) -> anyhow::Result<String> {
    if driver.warm_pool_config.is_empty() {
        return Ok(String::new());
    }
    let key = match pod_key(&cold.manifest) {
        Ok(key) => key,
        Err(why) => {
            return Ok(format!(
                "# warm pool: cold ({}): this pod cannot be pooled\n",
                why.reason()
            ));
        }
    };
    let profiles = load(driver, PLATFORM_CONFIG_KEYS).map_err(anyhow::Error::msg)?;
    let name = member_name_for(&key, "xxxxx");
    for profile in &profiles {
        let rendered = render(&member_request(profile, &name))?;
        let mut member = into_member(rendered, profile, &driver.gateway_id).map_err(|e| anyhow::anyhow!("{e}"))?;
        stamp_max_age(&mut member, profile, now).map_err(|e| anyhow::anyhow!("{e}"))?;
        if member.key != key || member.manifest.metadata.namespace != cold.manifest.metadata.namespace {
            continue;
        }
        let target = BoundMember {
            api,
            name: name.clone(),
            uid: OFFLINE_UID.into(),
            resource_version: String::new(),
        };
        let bound = bind(cold, &target, &driver.gateway_id);
        let mut out = format!(
            "---\n# warm pool: binds a ready member of profile {} (pod key {key}), else cold (pool_empty).\n# The member, as the pool starts it:\n",
            profile.name
        );
        out.push_str(&serde_yaml::to_string(&member.manifest)?);
        out.push_str("---\n# The bind, after its claim: the identity Secret\n");
        out.push_str(&secret_yaml(&bound.identity_secret)?);
        if let Some(token) = &bound.token_secret {
            out.push_str("---\n# and the token Secret\n");
            out.push_str(&secret_yaml(token)?);
        }
        let _ = writeln!(out, "---\n# then this merge patch of Sandbox {name}:");
        out.push_str(&serde_yaml::to_string(&bound.patch)?);
        return Ok(out);
    }
    Ok(format!(
        "# warm pool: cold (no_profile): no profile has this pod (pod key {key})\n"
    ))
}

/// A Secret as YAML with its values replaced: the sandbox id stays, variables keep their names.
fn secret_yaml(secret: &Secret) -> anyhow::Result<String> {
    let mut shown = secret.clone();
    let data = shown.data.take().unwrap_or_default();
    let mut text: std::collections::BTreeMap<String, String> = data
        .into_iter()
        .map(|(k, v)| {
            let value = match k.as_str() {
                SANDBOX_ID_FILE => String::from_utf8_lossy(&v.0).into_owned(),
                ENVIRONMENT_FILE => decode_environment(&v.0)
                    .unwrap_or_default()
                    .iter()
                    .map(|(name, _)| format!("{}=<redacted>", name.to_string_lossy()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => "<redacted>".into(),
            };
            (k, value)
        })
        .collect();
    if let Some(string_data) = shown.string_data.take() {
        // The token Secret's one key, TOKEN_KEY.
        text.extend(string_data.into_keys().map(|k| (k, "<redacted>".to_string())));
    }
    shown.string_data = Some(text);
    let mut doc = serde_json::to_value(&shown)?;
    doc["apiVersion"] = "v1".into();
    doc["kind"] = "Secret".into();
    Ok(serde_yaml::to_string(&doc)?)
}
