//! The flags checked together at startup, against the pod they render: a driver that cannot
//! work must not look as if it could. `serve` runs `check_serve`, `render` and `check` run
//! `check_settings`. Each flag's own grammar is checked by its parser in `config`.

use crate::config::{DriverConfig, WorkspaceMode};

/// What `serve` refuses to start with.
pub fn check_serve(config: &DriverConfig) -> Result<(), String> {
    if config.gateway_endpoint.trim().is_empty() {
        return Err(
            "--gateway-endpoint (OPENSHELL_DRIVER_GATEWAY_ENDPOINT) is required: the gateway URL sandbox pods reach, e.g. https://openshell-gateway.openshell-system.svc:8443".into(),
        );
    }
    crate::config::operator::check_flags(config)?;
    let endpoint = config.gateway_endpoint.trim();
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        return Err(format!(
            "--gateway-endpoint {endpoint:?} must be an http:// or https:// URL"
        ));
    }
    check_settings(config)
}

/// Combinations of flags no sandbox could work with.
pub fn check_settings(config: &DriverConfig) -> Result<(), String> {
    config.proxy.validate()?;
    config.ingress.validate()?;
    config.topology.validate(config.sandbox_uid)?;
    config
        .spiffe
        .validate(&crate::kubernetes::volumes::beside_spiffe(config))?;
    if config.proxy.has_credential() && config.workspace_mode == WorkspaceMode::Managed {
        return Err("--proxy-auth-secret-name: managed workspace mode does not copy the proxy credential Secret into workspace namespaces, so sandbox pods could not mount it".into());
    }
    Ok(())
}
