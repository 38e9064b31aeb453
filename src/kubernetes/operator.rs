//! Operator workspace mode: a workspace is the namespace of the same name, made and managed by the
//! platform team, and usable only while it is on the allowlist. The allowlist is the union of the
//! namespaces matching `--operator-namespace-label` (a Namespace watch keeps it current) and the
//! names in `--operator-namespace-file` (re-read when it changes).

use std::collections::BTreeSet;
use std::sync::RwLock;

use crate::config::DriverConfig;
pub use crate::config::operator::{check_flags, parse_namespace_file, read_namespace_file, validate_selector};
use crate::error::DriverError;

/// How often the allowlist file is looked at. A cheap poll (one `stat`, and a read only when
/// its size or mtime moved) rather than inotify: a ConfigMap volume updates by swapping a
/// symlink (`..data`) that a watch on the file itself never sees, and a poll needs no extra
/// dependency and behaves the same on every filesystem.
pub const FILE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

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
