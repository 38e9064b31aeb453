//! Tier 1: the SPIFFE socket flag, and the volume, mount and variable it renders.

use super::*;

#[test]
fn socket_paths_are_those_the_supervisor_can_hide() {
    for ok in [
        "",
        "/spiffe-workload-api/spire-agent.sock",
        "/run/spire/sockets/agent.sock",
    ] {
        assert_eq!(parse_socket_path(ok).as_deref(), Ok(ok), "{ok}");
    }
    for (bad, why) in [
        ("spiffe/agent.sock", "absolute"),
        (" /spiffe/agent.sock", "whitespace"),
        ("unix:/spiffe/agent.sock", "without unix:"),
        ("tcp:127.0.0.1:8081", "without tcp:"),
        ("/agent.sock", "directory of its own"),
        ("/spiffe/", "directory of its own"),
        ("//agent.sock", "plain absolute"),
        ("/spiffe/../agent.sock", "plain absolute"),
        ("/run/agent.sock", "shared directory /run"),
        ("/tmp/agent.sock", "shared directory /tmp"),
        ("/etc/agent.sock", "shared directory /etc"),
        ("/var/agent.sock", "shared directory /var"),
    ] {
        let err = parse_socket_path(bad).expect_err(bad);
        assert!(err.contains(why), "{bad}: {err}");
    }
}

#[test]
fn the_socket_directory_is_a_read_only_csi_volume_and_the_variable_names_the_socket() {
    let off = SpiffeConfig::default();
    assert_eq!((off.volume(), off.mount(), off.env()), (None, None, None));
    let on = SpiffeConfig {
        provider_spiffe_socket: "/spiffe-workload-api/spire-agent.sock".into(),
    };
    let volume = on.volume().expect("volume");
    assert_eq!(volume.name, "spiffe-workload-api");
    let csi = volume.csi.expect("csi");
    assert_eq!((csi.driver.as_str(), csi.read_only), ("csi.spiffe.io", Some(true)));
    let mount = on.mount().expect("mount");
    assert_eq!(
        (mount.name.as_str(), mount.mount_path.as_str(), mount.read_only),
        ("spiffe-workload-api", "/spiffe-workload-api", Some(true))
    );
    assert_eq!(
        on.env(),
        Some((
            "OPENSHELL_PROVIDER_SPIFFE_WORKLOAD_API_SOCKET",
            "/spiffe-workload-api/spire-agent.sock".to_string()
        ))
    );
}

#[test]
fn the_socket_directory_may_not_overlap_the_drivers_mounts() {
    let mounts: Vec<String> = ["/run/openshell", "/opt/openshell/bin", "/sandbox"]
        .map(String::from)
        .to_vec();
    let at = |p: &str| SpiffeConfig {
        provider_spiffe_socket: p.into(),
    };
    assert_eq!(at("/spiffe-workload-api/agent.sock").validate(&mounts), Ok(()));
    assert_eq!(SpiffeConfig::default().validate(&mounts), Ok(()));
    for bad in [
        "/run/openshell/agent.sock",
        "/run/openshell/spire/agent.sock",
        "/opt/agent.sock",
    ] {
        let err = at(bad).validate(&mounts).expect_err(bad);
        assert!(
            err.contains("--provider-spiffe-socket") && err.contains("overlaps"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn a_request_may_not_mount_a_claim_over_the_socket_directory() {
    use crate::kubernetes::request_config::parse_driver_config;
    let mut config = crate::config::DriverConfig::defaults();
    let block = crate::proto::json::json_to_struct(&serde_json::json!({
        "volume_mounts": [{"claim_name": "data", "mount_path": "/spiffe-workload-api"}]
    }));
    let reserved = |c: &crate::config::DriverConfig| crate::kubernetes::volumes::reserved_paths(c);
    let paths = reserved(&config);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    assert!(parse_driver_config(block.as_ref(), &paths).is_ok());
    config.spiffe.provider_spiffe_socket = "/spiffe-workload-api/spire-agent.sock".into();
    let paths = reserved(&config);
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let err = parse_driver_config(block.as_ref(), &paths).expect_err("overlap");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.to_string().contains("driver_config.volume_mounts[0].mount_path"),
        "{err}"
    );
}
