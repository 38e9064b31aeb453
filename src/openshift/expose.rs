//! Exposure of a sandbox through an OpenShift Route: what `platform_config.expose` asks for,
//! merged with the driver-wide defaults. Pure.

use serde::Deserialize;

use crate::config::{ExposeAuth, OpenShiftConfig, RouteTls};
use crate::error::DriverError;
use crate::kubernetes::request_config::value_to_json;
use crate::kubernetes::validation::is_dns_subdomain;
use crate::proto::DriverSandbox;

/// The `platform_config` key this module owns.
pub const EXPOSE_KEY: &str = "expose";
/// Where the oauth-proxy sidecar listens (TLS, with the service-serving certificate).
pub const OAUTH_PROXY_PORT: u16 = 8443;

/// One sandbox's exposure, fully decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// The port the agent serves on.
    pub port: u16,
    pub tls: RouteTls,
    /// Route host; the router assigns one when absent.
    pub host: Option<String>,
    pub auth: ExposeAuth,
}

/// `platform_config.expose`: `false`, `true` (the defaults), or an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExposeValue {
    Switch(bool),
    Settings(ExposeSettings),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExposeSettings {
    port: Option<u16>,
    tls: Option<RouteTls>,
    host: Option<String>,
    auth: Option<ExposeAuth>,
}

/// Whether and how `request` is exposed; `None` when it is not.
pub fn exposure_of(request: &DriverSandbox, config: &OpenShiftConfig) -> Result<Option<Exposure>, DriverError> {
    let raw = request
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.platform_config.as_ref())
        .and_then(|p| p.fields.get(EXPOSE_KEY))
        .map(value_to_json);
    let settings = match raw {
        None if config.expose_port.is_none() => return Ok(None),
        None => ExposeSettings::default(),
        Some(value) => match serde_json::from_value::<ExposeValue>(value.clone()) {
            Ok(ExposeValue::Switch(false)) => return Ok(None),
            Ok(ExposeValue::Switch(true)) => ExposeSettings::default(),
            Ok(ExposeValue::Settings(s)) => s,
            // Re-parse as the object to get serde's message naming the bad key.
            Err(_) => serde_json::from_value::<ExposeSettings>(value)
                .map_err(|e| DriverError::invalid(format!("platform_config.expose: {e}")))?,
        },
    };
    let port = settings.port.or(config.expose_port).ok_or_else(|| {
        DriverError::invalid("platform_config.expose.port is required (the driver has no --expose-port default)")
    })?;
    if port == 0 {
        return Err(DriverError::invalid(
            "platform_config.expose.port must be between 1 and 65535",
        ));
    }
    let auth = settings.auth.unwrap_or(config.expose_auth);
    let tls = match (auth, settings.tls) {
        (ExposeAuth::Openshift, None | Some(RouteTls::Reencrypt)) => RouteTls::Reencrypt,
        (ExposeAuth::Openshift, Some(other)) => {
            return Err(DriverError::invalid(format!(
                "platform_config.expose: auth openshift needs tls reencrypt (the proxy serves the service-serving certificate), not {}",
                other.as_route()
            )));
        }
        (ExposeAuth::None, tls) => tls.unwrap_or(config.expose_tls),
    };
    if auth == ExposeAuth::Openshift && port == OAUTH_PROXY_PORT {
        return Err(DriverError::invalid(format!(
            "platform_config.expose.port {port} is the oauth-proxy's own port; serve the agent on another port"
        )));
    }
    if let Some(host) = &settings.host
        && !is_dns_subdomain(host)
    {
        return Err(DriverError::invalid(format!(
            "platform_config.expose.host {host:?} is not a DNS name"
        )));
    }
    Ok(Some(Exposure {
        port,
        tls,
        host: settings.host,
        auth,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DriverConfig;
    use crate::kubernetes::request_config::json_to_struct;
    use crate::proto::{DriverSandboxSpec, DriverSandboxTemplate};

    fn request(expose: Option<serde_json::Value>) -> DriverSandbox {
        let platform = expose.map(|e| json_to_struct(&serde_json::json!({ "expose": e })).expect("object"));
        DriverSandbox {
            spec: Some(DriverSandboxSpec {
                template: Some(DriverSandboxTemplate {
                    platform_config: platform,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn exposure(port: u16, tls: RouteTls, host: Option<&str>, auth: ExposeAuth) -> Option<Exposure> {
        Some(Exposure {
            port,
            tls,
            host: host.map(str::to_string),
            auth,
        })
    }

    #[test]
    fn requests_and_defaults_become_one_exposure() {
        use serde_json::json;
        let plain = DriverConfig::defaults().openshift;
        let mut defaulted = plain.clone();
        defaulted.expose_port = Some(3000);
        defaulted.expose_tls = RouteTls::Passthrough;
        let cases = [
            (&plain, None, None),
            (
                &defaulted,
                None,
                exposure(3000, RouteTls::Passthrough, None, ExposeAuth::None),
            ),
            (&defaulted, Some(json!(false)), None),
            (
                &defaulted,
                Some(json!(true)),
                exposure(3000, RouteTls::Passthrough, None, ExposeAuth::None),
            ),
            (
                &plain,
                Some(json!({"port": 8080})),
                exposure(8080, RouteTls::Edge, None, ExposeAuth::None),
            ),
            (
                &plain,
                Some(json!({"port": 8080, "tls": "reencrypt", "host": "dev.apps.example.com"})),
                exposure(
                    8080,
                    RouteTls::Reencrypt,
                    Some("dev.apps.example.com"),
                    ExposeAuth::None,
                ),
            ),
            (
                &plain,
                Some(json!({"port": 8080, "auth": "openshift"})),
                exposure(8080, RouteTls::Reencrypt, None, ExposeAuth::Openshift),
            ),
            (
                &defaulted,
                Some(json!({"port": 9000})),
                exposure(9000, RouteTls::Passthrough, None, ExposeAuth::None),
            ),
        ];
        for (config, expose, want) in cases {
            assert_eq!(
                exposure_of(&request(expose.clone()), config).expect("valid"),
                want,
                "{expose:?}"
            );
        }
    }

    #[test]
    fn bad_exposure_is_invalid_argument_naming_the_problem() {
        use serde_json::json;
        let plain = DriverConfig::defaults().openshift;
        let cases = [
            (json!(true), "port is required"),
            (json!({"tls": "edge"}), "port is required"),
            (json!({"port": 0}), "between 1 and 65535"),
            (json!({"port": 70000}), "expose"),
            (json!({"port": 80, "tls": "none"}), "expose"),
            (json!({"port": 80, "prot": 1}), "prot"),
            (json!({"port": 80, "host": "Not A Host"}), "not a DNS name"),
            (
                json!({"port": 80, "auth": "openshift", "tls": "edge"}),
                "needs tls reencrypt",
            ),
            (json!({"port": 8443, "auth": "openshift"}), "oauth-proxy's own port"),
            (json!("yes"), "expose"),
        ];
        for (expose, needle) in cases {
            let err = exposure_of(&request(Some(expose.clone())), &plain).expect_err(&expose.to_string());
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{expose}");
            assert!(err.to_string().contains(needle), "{expose}: {err}");
        }
    }
}
