//! Tier 1: the supervisor delivery choice, table by table, and the pod parts of each delivery.

use crate::config::{DriverConfig, ImagePullPolicy};
use crate::kubernetes::sideload::SupervisorSideload::{Auto, ImageVolume, InitContainer};
use crate::kubernetes::sideload::*;

fn facts(version: Option<(u32, u32)>, gate: GateState) -> ApiServerFacts {
    ApiServerFacts {
        version,
        image_volume_gate: gate,
    }
}

fn unknown() -> GateState {
    GateState::Unknown("forbidden".into())
}

#[test]
fn auto_picks_image_volume_only_where_the_api_server_keeps_it() {
    let cases = [
        (Some((1, 36)), unknown(), ImageVolume, "1.36: GA"),
        (Some((1, 40)), unknown(), ImageVolume, "newer"),
        (Some((2, 0)), unknown(), ImageVolume, "a major release later"),
        (Some((1, 35)), GateState::On, ImageVolume, "beta with the gate on"),
        (Some((1, 33)), GateState::On, ImageVolume, "first beta with the gate on"),
        (Some((1, 34)), GateState::Off, InitContainer, "beta with the gate off"),
        (Some((1, 35)), unknown(), InitContainer, "gate unreadable"),
        (Some((1, 32)), GateState::On, InitContainer, "alpha: never"),
        (Some((1, 31)), unknown(), InitContainer, "older"),
        (None, unknown(), InitContainer, "unparsable version"),
    ];
    for (version, gate, want, what) in cases {
        let r = resolve(Auto, &facts(version, gate));
        assert_eq!(r.sideload, want, "{what}: {}", r.why);
        assert!(r.supported, "auto is always usable: {what}");
        assert!(r.why.starts_with("auto: "), "{what}: {}", r.why);
    }
}

#[test]
fn an_explicit_choice_is_kept_and_flagged_where_it_cannot_work() {
    let cases = [
        (InitContainer, Some((1, 36)), unknown(), true),
        (InitContainer, Some((1, 30)), unknown(), true),
        (ImageVolume, Some((1, 36)), unknown(), true),
        (ImageVolume, Some((1, 34)), GateState::On, true),
        (ImageVolume, Some((1, 34)), GateState::Off, false),
        (ImageVolume, Some((1, 34)), unknown(), false),
        (ImageVolume, Some((1, 30)), unknown(), false),
    ];
    for (choice, version, gate, supported) in cases {
        let r = resolve(choice, &facts(version, gate.clone()));
        assert_eq!(r.sideload, choice, "{version:?} {gate:?}");
        assert_eq!(r.supported, supported, "{version:?} {gate:?}: {}", r.why);
        assert!(r.why.contains("--supervisor-sideload"), "{}", r.why);
    }
    let why = resolve(ImageVolume, &facts(Some((1, 34)), GateState::Off)).why;
    assert!(why.contains("feature gate off") && why.contains("drop"), "{why}");
    let why = resolve(Auto, &facts(Some((1, 34)), unknown())).why;
    assert!(why.contains("/metrics") && why.contains("forbidden"), "{why}");
}

#[test]
fn versions_parse_as_providers_write_them() {
    for (major, minor, want) in [
        ("1", "36", Some((1, 36))),
        ("1", "33+", Some((1, 33))),
        ("1", "", None),
        ("", "36", None),
        ("v1", "36", None),
    ] {
        assert_eq!(parse_version(major, minor), want, "{major:?} {minor:?}");
    }
    assert!(ApiServerFacts::gate_matters(Some((1, 33))) && ApiServerFacts::gate_matters(Some((1, 35))));
    assert!(!ApiServerFacts::gate_matters(Some((1, 36))) && !ApiServerFacts::gate_matters(Some((1, 32))));
}

#[test]
fn the_gate_is_read_from_the_api_servers_feature_metric() {
    let exposition = |value: &str| {
        format!(
            "# HELP kubernetes_feature_enabled [BETA] This metric records the data about the stage and enablement of a k8s feature.\n\
             # TYPE kubernetes_feature_enabled gauge\n\
             kubernetes_feature_enabled{{name=\"ImageMaximumGCAge\",stage=\"\"}} 1\n\
             kubernetes_feature_enabled{{name=\"ImageVolume\",stage=\"BETA\"}} {value}\n\
             kubernetes_feature_enabled{{name=\"ImageVolumeWithDigest\",stage=\"ALPHA\"}} 0\n"
        )
    };
    assert_eq!(gate_from_metrics(&exposition("1")), GateState::On);
    assert_eq!(gate_from_metrics(&exposition("0")), GateState::Off);
    assert!(matches!(gate_from_metrics(&exposition("x")), GateState::Unknown(_)));
    let without = "kubernetes_feature_enabled{name=\"ImageVolumeWithDigest\",stage=\"ALPHA\"} 1\n\
                   kubernetes_feature_enabled_other{name=\"ImageVolume\"} 1\n";
    assert!(
        matches!(gate_from_metrics(without), GateState::Unknown(ref why) if why.contains("no kubernetes_feature_enabled")),
        "a longer gate name or another series is not the gate"
    );
}

fn config(sideload: SupervisorSideload, change: impl FnOnce(&mut DriverConfig)) -> DriverConfig {
    let mut c = DriverConfig::defaults();
    c.supervisor_sideload = sideload;
    change(&mut c);
    c
}

fn parts(c: &DriverConfig) -> Delivery {
    delivery(c, &crate::kubernetes::render::unprivileged())
}

#[test]
fn image_volume_mounts_each_image_read_only_without_init_containers() {
    for sideload in [Auto, ImageVolume] {
        let d = parts(&config(sideload, |c| {
            c.image_pull_policy = Some(ImagePullPolicy::Never)
        }));
        assert!(d.init_containers.is_empty(), "no init container, no copy");
        assert_eq!(d.supervisor, "/opt/openshell/bin/supervisor/openshell-sandbox");
        assert_eq!(d.launcher, "/opt/openshell/bin/launcher/openshell-launcher");
        let sources: Vec<_> = d
            .volumes
            .iter()
            .map(|v| {
                let image = v.image.as_ref().expect("an image volume");
                assert!(v.empty_dir.is_none() && v.host_path.is_none());
                (
                    v.name.as_str(),
                    image.reference.clone().expect("reference"),
                    image.pull_policy.as_deref(),
                )
            })
            .collect();
        let defaults = DriverConfig::defaults();
        assert_eq!(
            sources,
            [
                ("openshell-supervisor", defaults.supervisor_image.clone(), Some("Never")),
                ("openshell-launcher", defaults.launcher_image.clone(), Some("Never")),
            ]
        );
        let mounts: Vec<_> = d
            .mounts
            .iter()
            .map(|m| (m.name.as_str(), m.mount_path.as_str(), m.read_only))
            .collect();
        assert_eq!(
            mounts,
            [
                ("openshell-supervisor", "/opt/openshell/bin/supervisor", Some(true)),
                ("openshell-launcher", "/opt/openshell/bin/launcher", Some(true)),
            ]
        );
    }
}

#[test]
fn one_image_carrying_both_binaries_is_one_volume() {
    let d = parts(&config(ImageVolume, |c| {
        c.launcher_image = c.supervisor_image.clone();
        c.supervisor_binary_path = "/bin/openshell-sandbox".into();
        c.supervisor_mount_path = "/opt/osh/".into();
    }));
    assert_eq!(d.volumes.len(), 1);
    assert_eq!(d.mounts.len(), 1);
    assert_eq!(d.supervisor, "/opt/osh/supervisor/bin/openshell-sandbox");
    assert_eq!(d.launcher, "/opt/osh/supervisor/openshell-launcher");
    assert_eq!(d.volumes[0].image.as_ref().and_then(|i| i.pull_policy.clone()), None);
}

#[test]
fn init_container_copies_both_binaries_into_one_empty_dir() {
    let d = parts(&config(InitContainer, |_| {}));
    assert_eq!(d.supervisor, "/opt/openshell/bin/openshell-sandbox");
    assert_eq!(d.launcher, "/opt/openshell/bin/openshell-launcher");
    assert_eq!(d.volumes.len(), 1);
    assert!(d.volumes[0].empty_dir.is_some() && d.volumes[0].image.is_none());
    let commands: Vec<_> = d
        .init_containers
        .iter()
        .map(|c| (c.name.as_str(), c.command.clone().expect("command")))
        .collect();
    assert_eq!(
        commands,
        [
            (
                SUPERVISOR_INIT_CONTAINER,
                vec![
                    "/openshell-sandbox".to_string(),
                    "copy-self".into(),
                    "/opt/openshell/bin/openshell-sandbox".into()
                ]
            ),
            (
                LAUNCHER_INIT_CONTAINER,
                vec![
                    "/openshell-launcher".to_string(),
                    "copy-self".into(),
                    "/opt/openshell/bin/openshell-launcher".into()
                ]
            ),
        ]
    );
    for init in &d.init_containers {
        let mounts = init.volume_mounts.clone().expect("mounts");
        assert_eq!(mounts[0].read_only, Some(false), "the init container writes");
    }
    assert_eq!(d.mounts[0].read_only, Some(true), "the agent only reads");
}
