//! Workspace namespaces that a create has already prepared (managed and operator mode): the
//! namespace, its sandbox ServiceAccount and the copies of the source Secrets. Without this
//! every create paid for them again: a create and a get of the namespace, a create of the
//! ServiceAccount, and for each source a get, a create and a get of the copy.
//!
//! An entry holds the resourceVersion of each source it copied; a changed source (seen by its
//! watch) no longer matches, so the next create writes the copies again. Entries also expire,
//! which bounds how long a copy or ServiceAccount deleted by hand goes unnoticed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a prepared namespace is trusted without looking again.
pub const PREPARED_FOR: Duration = Duration::from_secs(30);

/// One source Secret at the version that was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceVersion {
    pub name: String,
    pub resource_version: String,
}

#[derive(Debug)]
struct Prepared {
    sources: Vec<SourceVersion>,
    at: Instant,
}

#[derive(Debug)]
pub struct PreparedNamespaces {
    entries: Mutex<HashMap<String, Prepared>>,
    ttl: Duration,
}

impl Default for PreparedNamespaces {
    fn default() -> Self {
        Self::new(PREPARED_FOR)
    }
}

impl PreparedNamespaces {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// True when `namespace` was prepared less than the TTL ago from exactly these sources.
    pub fn is_current(&self, namespace: &str, sources: &[SourceVersion], now: Instant) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(namespace)
            .is_some_and(|p| p.sources == sources && now.saturating_duration_since(p.at) < self.ttl)
    }

    pub fn record(&self, namespace: &str, sources: Vec<SourceVersion>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, p| now.saturating_duration_since(p.at) < self.ttl);
        entries.insert(namespace.to_string(), Prepared { sources, at: now });
    }

    /// The namespace is gone or being removed: the next create prepares it again.
    pub fn forget(&self, namespace: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(namespace);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[path = "prepared_tests.rs"]
mod tests;
