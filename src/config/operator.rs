//! `--workspace-mode operator`'s flags: the allowlist sources and their startup checks. Keeping
//! the allowlist current is `kubernetes::operator`'s.

use std::collections::BTreeSet;
use std::path::Path;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::grammar::{is_dns_label, is_label_key, is_label_value};

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
