//! `--https-proxy` and friends: egress through a corporate proxy. The flags and the
//! combinations the supervisor would refuse; what they render is `kubernetes::proxy`'s.

use clap::Args;

use crate::grammar::is_dns_subdomain;

/// `--https-proxy` and friends (upstream's names, our `OPENSHELL_DRIVER_*` variables).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ProxyConfig {
    /// Corporate HTTP forward proxy (`http://host:port`) the supervisor sends the sandbox's
    /// policy-approved egress through (its `--upstream-proxy`). Empty: direct egress.
    #[arg(long, env = "OPENSHELL_DRIVER_HTTPS_PROXY", default_value = "", value_parser = parse_proxy_url)]
    pub https_proxy: String,

    /// Comma-separated destinations that bypass the proxy (the supervisor's
    /// `--upstream-no-proxy`; policy still applies to them). Needs --https-proxy.
    #[arg(long, env = "OPENSHELL_DRIVER_NO_PROXY", default_value = "")]
    pub no_proxy: String,

    /// Secret in the sandbox namespace holding the proxy credential (`user:pass`); mounted
    /// read-only, 0400, into the agent container only. Needs --proxy-auth-secret-key.
    #[arg(long, env = "OPENSHELL_DRIVER_PROXY_AUTH_SECRET_NAME", default_value = "")]
    pub proxy_auth_secret_name: String,

    /// Key of that Secret holding the credential.
    #[arg(long, env = "OPENSHELL_DRIVER_PROXY_AUTH_SECRET_KEY", default_value = "")]
    pub proxy_auth_secret_key: String,

    /// Accept that the credential travels as cleartext Basic auth to the `http://` proxy; the
    /// supervisor refuses a credential without it.
    #[arg(long, env = "OPENSHELL_DRIVER_PROXY_AUTH_ALLOW_INSECURE")]
    pub proxy_auth_allow_insecure: bool,

    /// Send the destination host name instead of the validated IP in CONNECT (for proxies
    /// whose ACLs filter on names). Needs --https-proxy.
    #[arg(long, env = "OPENSHELL_DRIVER_PROXY_CONNECT_BY_HOSTNAME")]
    pub proxy_connect_by_hostname: bool,
}

/// The URL grammar the supervisor accepts: exactly `http://host:port`, port not 0, no
/// credentials, no path, query or fragment. Empty is "no proxy".
pub fn parse_proxy_url(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let fail = |why: &str| Err(format!("{text:?} {why}; expected http://host:port"));
    let Some(rest) = text.strip_prefix("http://") else {
        return fail("is not an http:// proxy URL (TLS and SOCKS proxies are not supported by the supervisor)");
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        return fail("embeds credentials: give them in a Secret (--proxy-auth-secret-name/-key)");
    }
    if authority.contains(['/', '?', '#']) {
        return fail("has a path, query or fragment");
    }
    let (host_ok, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((v6, port)) = bracketed.split_once("]:") else {
            return fail("has no port");
        };
        (v6.parse::<std::net::Ipv6Addr>().is_ok(), port)
    } else {
        let Some((host, port)) = authority.split_once(':') else {
            return fail("has no port");
        };
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        (valid, port)
    };
    if !host_ok {
        return fail("has no valid host");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => fail("has no valid port (1-65535)"),
        Ok(_) => Ok(text.to_string()),
    }
}

impl ProxyConfig {
    pub fn enabled(&self) -> bool {
        !self.https_proxy.is_empty()
    }

    pub fn has_credential(&self) -> bool {
        !self.proxy_auth_secret_name.is_empty()
    }

    /// The combinations the supervisor would refuse at start (it fails closed), refused here
    /// at the driver's start instead, naming the flag.
    pub fn validate(&self) -> Result<(), String> {
        let needs_proxy = |flag: &str| format!("{flag} is set but --https-proxy is not");
        if !self.enabled() {
            for (flag, set) in [
                ("--no-proxy", !self.no_proxy.trim().is_empty()),
                ("--proxy-auth-secret-name", self.has_credential()),
                ("--proxy-connect-by-hostname", self.proxy_connect_by_hostname),
            ] {
                if set {
                    return Err(needs_proxy(flag));
                }
            }
        }
        let (name, key) = (&self.proxy_auth_secret_name, &self.proxy_auth_secret_key);
        match (name.is_empty(), key.is_empty()) {
            (true, true) if self.proxy_auth_allow_insecure => {
                return Err("--proxy-auth-allow-insecure is set but there is no --proxy-auth-secret-name".into());
            }
            (true, true) => {}
            (false, true) => return Err("--proxy-auth-secret-name needs --proxy-auth-secret-key".into()),
            (true, false) => return Err("--proxy-auth-secret-key needs --proxy-auth-secret-name".into()),
            (false, false) => {
                if !is_dns_subdomain(name) {
                    return Err(format!("--proxy-auth-secret-name {name:?} is not a valid Secret name"));
                }
                if key.len() > 253
                    || key == "."
                    || key == ".."
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                {
                    return Err(format!(
                        "--proxy-auth-secret-key {key:?} is not a valid Secret key (letters, digits, '-', '.', '_')"
                    ));
                }
                if !self.proxy_auth_allow_insecure {
                    return Err("--proxy-auth-secret-name: the credential goes to the http:// proxy as cleartext Basic auth; set --proxy-auth-allow-insecure to accept that".into());
                }
            }
        }
        Ok(())
    }
}
