//! `check`'s SCC line: would OpenShift admit a plain sandbox's pod, as `serve` renders it on
//! this cluster, under the driver's SCC, and may the sandbox ServiceAccount use it.

use std::collections::BTreeSet;

use super::{CheckLine, Verdict, line};
use crate::config::DriverConfig;
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::nodes::NodeStore;
use crate::kubernetes::render::{SandboxApiVersion, render_sandbox};
use crate::kubernetes::sideload::resolve;
use crate::metrics::NoopMetrics;
use crate::openshift::OpenShiftEnricher;
use crate::openshift::expose::EXPOSE_KEY;
use crate::openshift::scc::sandbox_volume_types;
use crate::proto::{DriverSandbox, DriverSandboxSpec, DriverSandboxTemplate};

/// Whether sandbox pods in the sandbox namespace would be admitted under the SCC: a plain
/// sandbox's pod as `serve` renders it on this cluster (its supervisor delivery included).
pub(super) async fn scc_line(client: kube::Client, kube: &KubeCalls, config: &DriverConfig) -> CheckLine {
    let mut config = config.clone();
    if let Ok(facts) = kube.api_server_facts().await {
        config.supervisor_sideload = resolve(config.supervisor_sideload, &facts).sideload;
    }
    let config = std::sync::Arc::new(config);
    let scc = config.openshift.scc.clone();
    // The preflight reads no Nodes, so their watch (started on first use) never starts.
    let nodes = NodeStore::new(client.clone(), tokio::sync::watch::channel(false).1);
    let result = match (
        OpenShiftEnricher::new(config.clone(), client, nodes, std::sync::Arc::new(NoopMetrics)),
        plain_pod_volumes(&config),
    ) {
        (Ok(enricher), Ok(volumes)) => enricher.scc_preflight(&config.namespace, &volumes).await,
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match result {
        Ok(()) => line(
            "scc",
            Verdict::Pass,
            format!("{scc} exists, admits sandbox pods, and their ServiceAccount may use it"),
        ),
        Err(e) => line("scc", Verdict::Fail, e.to_string()),
    }
}

/// The volume types of a plain sandbox's pod under `config`.
fn plain_pod_volumes(config: &DriverConfig) -> Result<BTreeSet<String>, DriverError> {
    let mut config = config.clone();
    if config.gateway_endpoint.is_empty() {
        config.gateway_endpoint = crate::config::OFFLINE_GATEWAY_ENDPOINT.into();
    }
    let request = DriverSandbox {
        id: "check".into(),
        name: "check".into(),
        workspace: "default".into(),
        spec: Some(DriverSandboxSpec {
            command: vec!["sleep".into(), "infinity".into()],
            template: Some(DriverSandboxTemplate {
                image: "check.invalid/agent:1".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let rendered = render_sandbox(&request, &config, SandboxApiVersion::V1beta1, &[EXPOSE_KEY])?;
    Ok(sandbox_volume_types(&rendered.manifest.spec))
}

#[cfg(test)]
#[path = "check_scc_tests.rs"]
mod tests;
