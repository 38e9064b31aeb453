//! Tier 1: the tests of `detect`.

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
