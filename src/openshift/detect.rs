//! Which OpenShift APIs the cluster serves and which SELinux type its nodes offer, and what
//! that means for the driver. The decisions are pure; `OpenShiftEnricher` does the looking.

use crate::config::{OpenShiftConfig, PlatformMode};
use crate::openshift::namespace::is_selinux_type;
use crate::openshift::pod::SelinuxChoice;

pub const SCC_GROUP_VERSION: &str = "security.openshift.io/v1";
pub const SCC_PLURAL: &str = "securitycontextconstraints";
pub const ROUTE_GROUP_VERSION: &str = "route.openshift.io/v1";
pub const ROUTE_PLURAL: &str = "routes";

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
mod tests {
    use super::*;
    use crate::config::DriverConfig;

    #[test]
    fn the_mode_and_discovery_decide_activity() {
        let openshift = PlatformFacts {
            scc_api: true,
            route_api: true,
            ..Default::default()
        };
        let vanilla = PlatformFacts::default();
        let cases = [
            (PlatformMode::Auto, &openshift, true),
            (PlatformMode::Auto, &vanilla, false),
            (PlatformMode::Kubernetes, &openshift, false),
            (PlatformMode::Openshift, &vanilla, true),
        ];
        for (mode, facts, want) in cases {
            assert_eq!(openshift_active(mode, facts), want, "{mode:?} {facts:?}");
        }
    }

    #[test]
    fn selinux_type_from_flag_or_nodes() {
        let base = DriverConfig::defaults().openshift;
        let facts = |values: &[&str]| PlatformFacts {
            selinux_labels: values.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        };
        let mut flag = base.clone();
        flag.selinux_type = "openshell_agent_t".into();
        flag.selinux_detect_label = "openshell.ai/selinux-type".into();
        let mut detect = base.clone();
        detect.selinux_detect_label = "openshell.ai/selinux-type".into();
        let chosen = |t: &str| {
            Some((
                t.to_string(),
                Some(("openshell.ai/selinux-type".to_string(), t.to_string())),
            ))
        };
        let cases = [
            (&base, facts(&["openshell_agent_t"]), None),
            (
                &flag,
                facts(&["other_t"]),
                Some(("openshell_agent_t".to_string(), None)),
            ),
            (&detect, facts(&[]), None),
            (&detect, facts(&["bad-type", ""]), None),
            (&detect, facts(&["b_t", "a_t"]), chosen("a_t")),
            (&detect, facts(&["b_t", "a_t", "b_t"]), chosen("b_t")),
        ];
        for (config, facts, want) in cases {
            let got = selinux_choice(config, &facts).map(|c| (c.type_name, c.node_label));
            assert_eq!(got, want, "{facts:?}");
        }
    }
}
