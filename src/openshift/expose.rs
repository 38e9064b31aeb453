//! Exposure of a sandbox through an OpenShift Route: what `platform_config.expose` asks for,
//! merged with the driver-wide defaults. Pure.

use serde::Deserialize;

use crate::config::{ExposeAuth, OpenShiftConfig, RouteTls};
use crate::error::DriverError;
use crate::grammar::is_dns_subdomain;
use crate::proto::DriverSandbox;
use crate::proto::json::value_to_json;

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
#[path = "expose_tests.rs"]
mod tests;
