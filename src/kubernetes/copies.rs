//! The Secrets the driver copies from its own namespace into the workspace namespaces it uses:
//! the client TLS Secret (managed and operator mode) and the image-pull Secrets (managed mode).
//! Each copy carries the ownership labels and `openshell.ai/copy-of`, so the source watch and a
//! deletion find exactly the driver's copies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::kubernetes::identity::Ownership;

/// On every copy: the name of its source Secret in the driver's namespace.
pub const LABEL_COPY_OF: &str = "openshell.ai/copy-of";

/// One Secret the driver copies, and the flag that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedSecret {
    pub name: String,
    pub flag: &'static str,
}

/// What is copied into each workspace namespace in the configured mode.
pub fn copied_secrets(config: &DriverConfig) -> Vec<CopiedSecret> {
    let mut out = Vec::new();
    if config.workspace_mode == WorkspaceMode::Shared {
        return out;
    }
    if !config.client_tls_secret.is_empty() {
        out.push(CopiedSecret {
            name: config.client_tls_secret.clone(),
            flag: "--client-tls-secret",
        });
    }
    if config.workspace_mode == WorkspaceMode::Managed {
        for name in &config.image_pull_secrets {
            if !out.iter().any(|c| &c.name == name) {
                out.push(CopiedSecret {
                    name: name.clone(),
                    flag: "--image-pull-secrets",
                });
            }
        }
    }
    out
}

/// The copy of `source` in `namespace`: its type and data only (no annotations, no owner, no
/// other labels), labelled as the driver's.
pub fn secret_copy(source: &Secret, name: &str, namespace: &str, ownership: Ownership<'_>) -> Secret {
    let mut labels: BTreeMap<String, String> = ownership.labels();
    labels.insert(LABEL_COPY_OF.into(), name.into());
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            ..Default::default()
        },
        type_: source.type_.clone(),
        data: source.data.clone(),
        ..Default::default()
    }
}

/// An existing copy needs no write when it already holds what the copy would.
pub fn copy_is_current(existing: &Secret, copy: &Secret) -> bool {
    existing.data == copy.data
        && existing.type_ == copy.type_
        && existing.metadata.labels.as_ref().and_then(|l| l.get(LABEL_COPY_OF))
            == copy.metadata.labels.as_ref().and_then(|l| l.get(LABEL_COPY_OF))
}

/// `render`'s note of what the driver writes around the Sandbox in a workspace namespace.
pub fn render_notes(config: &DriverConfig, namespace: &str) -> Vec<String> {
    let copies: Vec<String> = copied_secrets(config).into_iter().map(|c| c.name).collect();
    let copies = if copies.is_empty() {
        String::new()
    } else {
        let kept = if config.workspace_mode == WorkspaceMode::Managed {
            "kept equal to their sources"
        } else {
            "written on each create"
        };
        format!(
            "; copies of Secret(s) {} from namespace {}, labelled {LABEL_COPY_OF}, {kept}",
            copies.join(", "),
            config.namespace
        )
    };
    match config.workspace_mode {
        WorkspaceMode::Shared => Vec::new(),
        WorkspaceMode::Managed => vec![format!(
            "# managed mode: namespace {namespace} is made by the driver, with ServiceAccount {}{copies}",
            crate::kubernetes::render::sandbox_service_account(&config.sandbox_service_account)
        )],
        WorkspaceMode::Operator => vec![format!(
            "# operator mode: namespace {namespace} must be on the allowlist ({}) and hold ServiceAccount {}{copies}",
            crate::kubernetes::operator::describe(config),
            crate::kubernetes::render::sandbox_service_account(&config.sandbox_service_account)
        )],
    }
}

#[cfg(test)]
#[path = "copies_tests.rs"]
mod tests;
