//! `render`: print the objects the driver would create for a request, without a cluster.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;

use crate::cli::request_doc::SandboxDoc;
use crate::config::DriverConfig;
use crate::kubernetes::render::{SandboxApiVersion, TOKEN_KEY, render_sandbox};

#[derive(Debug, Clone, Args)]
pub struct RenderArgs {
    /// Request file (JSON or YAML of a DriverSandbox); `-` or absent reads stdin.
    #[arg(long, short = 'f', default_value = "-")]
    pub file: PathBuf,
    /// Render for the v1alpha1 Sandbox API instead of v1beta1.
    #[arg(long)]
    pub v1alpha1: bool,
    #[command(flatten)]
    pub driver: DriverConfig,
}

/// The YAML documents for `input`: the Sandbox, then the token Secret with its value redacted.
pub fn render_yaml(input: &str, args: &RenderArgs) -> anyhow::Result<String> {
    let request = SandboxDoc::parse(input)?.into_proto();
    let api = if args.v1alpha1 {
        SandboxApiVersion::V1alpha1
    } else {
        SandboxApiVersion::V1beta1
    };
    let rendered = render_sandbox(&request, &args.driver, api, &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = serde_yaml::to_string(&rendered.manifest)?;
    if let Some(mut secret) = rendered.token_secret {
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
    Ok(out)
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
