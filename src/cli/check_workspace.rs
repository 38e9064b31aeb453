//! `check`'s workspace lines: the mode, where sandboxes go (operator mode: the allowlist as the
//! driver would read it now), and the sandbox pods' ServiceAccount.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::ResourceExt;
use kube::api::{Api, ListParams};

use crate::cli::check_line::{CheckLine, Verdict, line};
use crate::config::{DriverConfig, WorkspaceMode};
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::operator::{check_flags, read_namespace_file};
use crate::kubernetes::render::sandbox_service_account;

pub async fn workspace_lines(kube: &KubeCalls, config: &DriverConfig) -> Vec<CheckLine> {
    if let Err(e) = check_flags(config) {
        return vec![line("workspace-mode", Verdict::Fail, e)];
    }
    match config.workspace_mode {
        WorkspaceMode::Shared => vec![
            line(
                "workspace-mode",
                Verdict::Pass,
                format!("shared: every workspace in namespace {}", config.namespace),
            ),
            namespace_line(kube, &config.namespace).await,
        ],
        WorkspaceMode::Managed => vec![line(
            "workspace-mode",
            Verdict::Pass,
            format!(
                "managed: namespace {}WORKSPACE per workspace, made (and deleted) by the driver",
                config.workspace_namespace_prefix
            ),
        )],
        WorkspaceMode::Operator => {
            let mut lines = vec![line(
                "workspace-mode",
                Verdict::Pass,
                "operator: workspace WORKSPACE is the platform team's namespace of that name, when on the allowlist; the driver never creates or deletes a namespace",
            )];
            lines.extend(allowlist_lines(kube, config).await);
            lines
        }
    }
}

async fn namespace_line(kube: &KubeCalls, namespace: &str) -> CheckLine {
    let namespaces: Api<Namespace> = Api::all(kube.client.clone());
    match kube.call("get", "namespaces", namespaces.get(namespace)).await {
        Ok(_) => line("namespace", Verdict::Pass, format!("{namespace} exists")),
        Err(DriverError::NotFound(_)) => line("namespace", Verdict::Fail, format!("{namespace} does not exist")),
        Err(e) => line("namespace", Verdict::Warn, format!("{namespace}: cannot tell ({e})")),
    }
}

fn names(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        "none".into()
    } else {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Each source of the allowlist, read now.
async fn allowlist_lines(kube: &KubeCalls, config: &DriverConfig) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    let selector = config.operator_namespace_label.trim();
    if !selector.is_empty() {
        let namespaces: Api<Namespace> = Api::all(kube.client.clone());
        lines.push(
            match kube
                .call(
                    "list",
                    "namespaces",
                    namespaces.list(&ListParams::default().labels(selector)),
                )
                .await
            {
                Ok(list) => {
                    let found: BTreeSet<String> = list.items.iter().map(|n| n.name_any()).collect();
                    let verdict = if found.is_empty() { Verdict::Warn } else { Verdict::Pass };
                    line(
                        "operator-namespace-label",
                        verdict,
                        format!("namespaces labelled {selector}: {}", names(&found)),
                    )
                }
                Err(e) => line("operator-namespace-label", Verdict::Fail, format!("{selector}: {e}")),
            },
        );
    }
    if let Some(path) = &config.operator_namespace_file {
        lines.push(match read_namespace_file(path) {
            Ok(found) => line(
                "operator-namespace-file",
                if found.is_empty() { Verdict::Warn } else { Verdict::Pass },
                format!("{}: {}", path.display(), names(&found)),
            ),
            Err(e) => line("operator-namespace-file", Verdict::Fail, e),
        });
    }
    lines
}

/// The sandbox pods' ServiceAccount: made by the driver in managed mode, required in the
/// sandbox namespace in shared mode, and in each allowed namespace in operator mode.
pub async fn service_account_line(kube: &KubeCalls, config: &DriverConfig) -> CheckLine {
    let name = sandbox_service_account(&config.sandbox_service_account);
    match config.workspace_mode {
        WorkspaceMode::Managed => {
            return line(
                "sandbox-service-account",
                Verdict::Pass,
                format!("{name}: created by the driver in each workspace namespace"),
            );
        }
        WorkspaceMode::Operator => {
            return line(
                "sandbox-service-account",
                Verdict::Pass,
                format!(
                    "{name}: the platform team makes it in each allowed namespace; a create in one without it is FAILED_PRECONDITION"
                ),
            );
        }
        WorkspaceMode::Shared => {}
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(kube.client.clone(), &config.namespace);
    match kube.call("get", "serviceaccounts", accounts.get(&name)).await {
        Ok(_) => line(
            "sandbox-service-account",
            Verdict::Pass,
            format!("{name} exists in {}", config.namespace),
        ),
        Err(DriverError::NotFound(_)) => line(
            "sandbox-service-account",
            Verdict::Fail,
            format!(
                "{name} (--sandbox-service-account) does not exist in {}; creates fail until it does",
                config.namespace
            ),
        ),
        Err(e) => line(
            "sandbox-service-account",
            Verdict::Warn,
            format!("{name}: cannot tell ({e})"),
        ),
    }
}
