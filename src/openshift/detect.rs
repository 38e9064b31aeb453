//! Which OpenShift APIs the cluster serves and which SELinux type its nodes offer, and what
//! that means for the driver. The decisions are pure; `OpenShiftEnricher` does the looking.

use crate::config::{OpenShiftConfig, PlatformMode};
use crate::openshift::namespace::is_selinux_type;
use crate::openshift::pod::SelinuxChoice;

/// What discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformFacts {
    pub scc_api: bool,
    pub route_api: bool,
    /// Values of `--selinux-detect-label` on the nodes that carry it.
    pub selinux_labels: Vec<String>,
}

/// Whether the OpenShift additions apply.
pub fn openshift_active(mode: PlatformMode, facts: &PlatformFacts) -> bool {
    match mode {
        PlatformMode::Auto => facts.scc_api,
        PlatformMode::Kubernetes => false,
        PlatformMode::Openshift => true,
    }
}

/// `--selinux-type` wins; else the type nodes advertise through `--selinux-detect-label`
/// (the most common valid one, ties by name, so that every replica of the driver agrees).
pub fn selinux_choice(config: &OpenShiftConfig, facts: &PlatformFacts) -> Option<SelinuxChoice> {
    if !config.selinux_type.is_empty() {
        return Some(SelinuxChoice {
            type_name: config.selinux_type.clone(),
            node_label: None,
        });
    }
    if config.selinux_detect_label.is_empty() {
        return None;
    }
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for value in facts.selinux_labels.iter().filter(|v| is_selinux_type(v)) {
        *counts.entry(value.as_str()).or_default() += 1;
    }
    let best = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    Some(SelinuxChoice {
        type_name: best.0.to_string(),
        node_label: Some((config.selinux_detect_label.clone(), best.0.to_string())),
    })
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
