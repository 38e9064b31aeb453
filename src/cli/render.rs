//! `render`: print the objects the driver would create for a request, without a cluster.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use crate::config::DriverConfig;
use crate::config::PlatformMode;
use crate::kubernetes::render::{
    RenderedSandbox, SandboxApiVersion, TOKEN_KEY, render_sandbox, sandbox_service_account,
};
use crate::openshift::companions::Companions;
use crate::openshift::decision::{decide, enrich_offline};
use crate::openshift::detect::PlatformFacts;
use crate::openshift::expose::EXPOSE_KEY;
use crate::proto::DriverSandbox;

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?}: expected KEY=VALUE"))
}

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// Request file (JSON or YAML of a DriverSandbox); `-` or absent reads stdin.
    #[arg(long, short = 'f', default_value = "-")]
    pub file: PathBuf,
    /// Render for the v1alpha1 Sandbox API instead of v1beta1.
    #[arg(long)]
    pub v1alpha1: bool,
    /// With --platform openshift: an annotation of the sandbox namespace, as OpenShift sets
    /// them (e.g. `openshift.io/sa.scc.uid-range=1000680000/10000`); repeatable.
    #[arg(long = "namespace-annotation", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub namespace_annotations: Vec<(String, String)>,
    /// The create time `spec.shutdownTime` counts from (RFC 3339); absent: now.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<k8s_openapi::jiff::Timestamp>,
    #[command(flatten)]
    pub driver: DriverConfig,
}

/// The YAML documents for `input`: the Sandbox, then the token Secret with its value redacted.
pub fn render_yaml(input: &str, args: &RenderArgs) -> anyhow::Result<String> {
    let request = crate::cli::read_sandbox(input)?;
    crate::kubernetes::settings::check_settings(&args.driver).map_err(anyhow::Error::msg)?;
    let mut driver = args.driver.clone();
    driver.resolve_mode_defaults();
    if driver.gateway_endpoint.is_empty() {
        // Offline review needs no gateway; the placeholder shows where the URL goes.
        driver.gateway_endpoint = crate::config::OFFLINE_GATEWAY_ENDPOINT.into();
    }
    let args = &RenderArgs { driver, ..args.clone() };
    let api = if args.v1alpha1 {
        SandboxApiVersion::V1alpha1
    } else {
        SandboxApiVersion::V1beta1
    };
    let (rendered, companions) = render_enriched(&request, args, api)?;
    let mut out: String = crate::kubernetes::copies::render_notes(&args.driver, &rendered.identity.namespace)
        .into_iter()
        .map(|note| note + "\n")
        .collect();
    out.push_str(&serde_yaml::to_string(&rendered.manifest)?);
    if let Some(mut secret) = rendered.token_secret.clone() {
        // The token is a secret: the review output shows where it goes, not what it is.
        secret.string_data = Some([(TOKEN_KEY.to_string(), "<redacted>".to_string())].into());
        let mut doc = serde_json::to_value(&secret)?;
        if let Some(map) = doc.as_object_mut() {
            map.insert("apiVersion".into(), "v1".into());
            map.insert("kind".into(), "Secret".into());
        }
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&doc)?);
    }
    if let Some(policy) = &rendered.network_policy {
        let mut doc = serde_json::to_value(policy)?;
        doc["apiVersion"] = "networking.k8s.io/v1".into();
        doc["kind"] = "NetworkPolicy".into();
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&doc)?);
    }
    if let Some(made) = companions {
        let mut service = serde_json::to_value(&made.service)?;
        service["apiVersion"] = "v1".into();
        service["kind"] = "Service".into();
        let mut docs = vec![service, made.route];
        if let Some(secret) = made.cookie_secret {
            let mut secret = serde_json::to_value(&secret)?;
            secret["apiVersion"] = "v1".into();
            secret["kind"] = "Secret".into();
            docs.push(secret);
        }
        if let Some((key, value)) = made.redirect_annotation {
            let account = sandbox_service_account(&args.driver.sandbox_service_account);
            out.push_str(&format!("# patched onto ServiceAccount {account}: {key}: {value}\n"));
        }
        for doc in docs {
            out.push_str("---\n");
            out.push_str(&serde_yaml::to_string(&doc)?);
        }
    }
    let now = args.now.unwrap_or_else(k8s_openapi::jiff::Timestamp::now);
    let render = |request: &DriverSandbox| render_enriched(request, args, api).map(|(rendered, _)| rendered);
    out.push_str(&crate::cli::render_warm::warm_section(
        &rendered,
        &args.driver,
        api,
        now,
        render,
    )?);
    Ok(out)
}

/// `request` rendered and enriched offline as a create would be, with what the OpenShift
/// enricher adds beside the Sandbox.
fn render_enriched(
    request: &DriverSandbox,
    args: &RenderArgs,
    api: SandboxApiVersion,
) -> anyhow::Result<(RenderedSandbox, Option<Companions>)> {
    let keys: &[&str] = &[EXPOSE_KEY];
    let mut rendered = render_sandbox(request, &args.driver, api, keys).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = args.now.unwrap_or_else(k8s_openapi::jiff::Timestamp::now);
    rendered.stamp_expiry(now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let companions = if args.driver.openshift.platform == PlatformMode::Openshift {
        let annotations = args.namespace_annotations.iter().cloned().collect();
        // Offline there are no node labels: only --selinux-type shows.
        enrich_offline(
            request,
            &args.driver,
            &mut rendered,
            &annotations,
            &PlatformFacts::default(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?
    } else {
        // Offline no OpenShift API is served: the enricher's own refusal of `expose`.
        decide(&args.driver, &PlatformFacts::default(), request).map_err(|e| anyhow::anyhow!("{e}"))?;
        None
    };
    Ok((rendered, companions))
}

pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let mut input = String::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut input)?;
    } else {
        input = std::fs::read_to_string(&args.file).map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    }
    print!("{}", render_yaml(&input, args)?);
    Ok(())
}
