//! Operator workspace mode: a workspace is the namespace of the same name, made and managed by the
//! platform team, and usable only while it is on the allowlist. The allowlist is the union of the
//! namespaces matching `--operator-namespace-label` (a Namespace watch keeps it current) and the
//! names in `--operator-namespace-file` (re-read when it changes).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::RwLock;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::error::DriverError;
use crate::kubernetes::validation::is_dns_label;

/// How often the allowlist file is looked at. A cheap poll (one `stat`, and a read only when
/// its size or mtime moved) rather than inotify: a ConfigMap volume updates by swapping a
/// symlink (`..data`) that a watch on the file itself never sees, and a poll needs no extra
/// dependency and behaves the same on every filesystem.
pub const FILE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// The flags' rules, for startup: operator mode needs a source, the others take none.
pub fn check_flags(config: &DriverConfig) -> Result<(), String> {
    let label = config.operator_namespace_label.trim();
    let file = config.operator_namespace_file.as_deref();
    if config.workspace_mode != WorkspaceMode::Operator {
        if !label.is_empty() {
            return Err("--operator-namespace-label is used only with --workspace-mode operator".into());
        }
        if file.is_some() {
            return Err("--operator-namespace-file is used only with --workspace-mode operator".into());
        }
        return Ok(());
    }
    if label.is_empty() && file.is_none() {
        return Err(
            "--workspace-mode operator needs an allowlist: --operator-namespace-label, --operator-namespace-file, or both"
                .into(),
        );
    }
    if !label.is_empty() {
        validate_selector(label).map_err(|e| format!("--operator-namespace-label {label:?}: {e}"))?;
    }
    if let Some(path) = file {
        read_namespace_file(path).map_err(|e| format!("--operator-namespace-file: {e}"))?;
    }
    Ok(())
}

/// An equality-based label selector: `key`, `!key`, `key=value`, `key==value` or `key!=value`,
/// comma separated (the API server also takes set-based terms; they are refused here so that
/// a typo is caught at startup rather than as an empty allowlist).
pub fn validate_selector(selector: &str) -> Result<(), String> {
    for term in selector.split(',').map(str::trim) {
        let (key, value) = if let Some((k, v)) = term.split_once("!=") {
            (k, Some(v))
        } else if let Some((k, v)) = term.split_once("==") {
            (k, Some(v))
        } else if let Some((k, v)) = term.split_once('=') {
            (k, Some(v))
        } else {
            (term.strip_prefix('!').unwrap_or(term), None)
        };
        if !is_label_key(key.trim()) {
            return Err(format!(
                "{term:?} has no valid label key (expected key=value, key!=value, key or !key)"
            ));
        }
        if let Some(v) = value
            && !is_label_value(v.trim())
        {
            return Err(format!("{term:?} has an invalid label value"));
        }
    }
    Ok(())
}

fn is_label_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => {
            !prefix.is_empty() && prefix.len() <= 253 && prefix.split('.').all(is_dns_label) && is_label_name(name)
        }
        None => is_label_name(key),
    }
}

fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

/// The allowlist file: a JSON array of namespace names (upstream's format).
pub fn parse_namespace_file(text: &str) -> Result<BTreeSet<String>, String> {
    let names: Vec<String> =
        serde_json::from_str(text).map_err(|e| format!("expected a JSON array of namespace names: {e}"))?;
    if let Some(bad) = names.iter().find(|n| !is_dns_label(n)) {
        return Err(format!("{bad:?} is not a namespace name"));
    }
    Ok(names.into_iter().collect())
}

pub fn read_namespace_file(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_namespace_file(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The two sources; `None` is a source that is configured but not loaded yet.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sources {
    pub label: Option<BTreeSet<String>>,
    pub file: Option<BTreeSet<String>>,
}

impl Sources {
    /// A namespace is allowed when either source lists it. Until every configured source has
    /// loaded, a namespace on none is UNAVAILABLE (it may yet appear), not refused.
    pub fn decide(&self, namespace: &str, config: &DriverConfig) -> Result<(), DriverError> {
        let listed = |s: &Option<BTreeSet<String>>| s.as_ref().is_some_and(|s| s.contains(namespace));
        if listed(&self.label) || listed(&self.file) {
            return Ok(());
        }
        let label = config.operator_namespace_label.trim();
        if !label.is_empty() && self.label.is_none() {
            return Err(DriverError::Unavailable(format!(
                "the operator namespace allowlist (namespaces labelled {label}) has not been listed yet"
            )));
        }
        Err(DriverError::FailedPrecondition(format!(
            "workspace {namespace:?} is not on the operator namespace allowlist ({}); the platform team must add namespace {namespace} to it",
            describe(config)
        )))
    }

    /// The allowed namespaces, for `check`.
    pub fn union(&self) -> BTreeSet<String> {
        self.label.iter().chain(self.file.iter()).flatten().cloned().collect()
    }
}

/// Where the allowlist comes from, in words.
pub fn describe(config: &DriverConfig) -> String {
    let mut parts = Vec::new();
    let label = config.operator_namespace_label.trim();
    if !label.is_empty() {
        parts.push(format!("namespaces labelled {label}"));
    }
    if let Some(file) = &config.operator_namespace_file {
        parts.push(format!("names in {}", file.display()));
    }
    parts.join(" or ")
}

/// The allowlist the watches keep and every create consults.
#[derive(Debug, Default)]
pub struct Allowlist {
    sources: RwLock<Sources>,
}

impl Allowlist {
    pub fn snapshot(&self) -> Sources {
        self.sources.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn update(&self, change: impl FnOnce(&mut Sources)) {
        change(&mut self.sources.write().unwrap_or_else(|e| e.into_inner()));
    }
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
