//! `--host-gateway-ip`: the host names a gateway outside the cluster is reached by, as the pod's
//! `/etc/hosts` entries (the same names upstream's driver gives), for clusters whose DNS does not
//! know them. Pure.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::HostAlias;

/// The names `--gateway-endpoint` may use for a gateway on the host.
pub const HOST_GATEWAY_NAMES: [&str; 2] = ["host.docker.internal", "host.openshell.internal"];

pub fn host_aliases(ip: Option<IpAddr>) -> Option<Vec<HostAlias>> {
    ip.map(|ip| {
        vec![HostAlias {
            ip: ip.to_string(),
            hostnames: Some(HOST_GATEWAY_NAMES.iter().map(|h| h.to_string()).collect()),
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_names_point_at_the_configured_address() {
        assert_eq!(host_aliases(None), None);
        for ip in ["172.17.0.1", "fd00::1"] {
            let aliases = host_aliases(Some(ip.parse().expect("ip"))).expect("aliases");
            assert_eq!(aliases.len(), 1);
            assert_eq!(aliases[0].ip, ip);
            assert_eq!(
                aliases[0].hostnames.as_deref(),
                Some(
                    &[
                        "host.docker.internal".to_string(),
                        "host.openshell.internal".to_string()
                    ][..]
                )
            );
        }
    }

    #[test]
    fn bad_values_are_refused_at_startup_naming_the_flag() {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: crate::config::DriverConfig,
        }
        for (flag, value) in [
            ("--host-gateway-ip", "gateway.local"),
            ("--default-ttl", "soon"),
            ("--expiry-policy", "keep"),
            ("--supervisor-sideload", "copy"),
        ] {
            let err = <Only as clap::Parser>::try_parse_from(["driver", flag, value])
                .err()
                .unwrap_or_else(|| panic!("{flag} {value} accepted"));
            assert!(err.to_string().contains(flag), "{flag}: {err}");
        }
    }
}
