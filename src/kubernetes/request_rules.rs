//! The gateway's own rules for what a request may carry, applied again here so that a client
//! other than today's gateway cannot get around them (crates/openshell-server/src/grpc/
//! validation.rs and grpc/mod.rs upstream), and the driver's reserved metadata prefixes.

use std::collections::HashMap;

use crate::error::DriverError;

/// Entries of one environment map (spec or template).
pub const MAX_ENV_ENTRIES: usize = 128;
pub const MAX_ENV_KEY_LEN: usize = 256;
pub const MAX_ENV_VALUE_LEN: usize = 8192;
/// Sum of key and value lengths of one map.
pub const MAX_ENV_MAP_BYTES: usize = 256 * 1024;
/// Keys the supervisor reads: a request may not set any of them.
pub const RESERVED_ENV_PREFIX: &str = "OPENSHELL_";
/// Label and annotation prefixes that carry the driver's (and the controller's) identity of a
/// sandbox; the gateway's ServiceAccount check reads `openshell.io/sandbox-id` on the pod.
pub const RESERVED_METADATA_PREFIXES: [&str; 3] = ["openshell.ai/", "openshell.io/", "agents.x-k8s.io/"];

/// `^[A-Za-z_][A-Za-z0-9_]*$`, not `OPENSHELL_*`, values without NUL, CR or LF, and the sizes.
pub fn check_environment(field: &str, env: &HashMap<String, String>) -> Result<(), DriverError> {
    if env.len() > MAX_ENV_ENTRIES {
        return Err(DriverError::invalid(format!(
            "{field} has {} entries; at most {MAX_ENV_ENTRIES} are allowed",
            env.len()
        )));
    }
    let mut keys: Vec<&String> = env.keys().collect();
    keys.sort();
    let mut total = 0;
    for key in keys {
        let value = &env[key];
        let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok {
            return Err(DriverError::invalid(format!(
                "{field} keys must match ^[A-Za-z_][A-Za-z0-9_]*$; got {key:?}"
            )));
        }
        if key.starts_with(RESERVED_ENV_PREFIX) {
            return Err(DriverError::invalid(format!(
                "{field} keys starting with {RESERVED_ENV_PREFIX} are reserved; got {key:?}"
            )));
        }
        if key.len() > MAX_ENV_KEY_LEN {
            return Err(DriverError::invalid(format!(
                "{field} key {key:?} is longer than {MAX_ENV_KEY_LEN} bytes"
            )));
        }
        if value.len() > MAX_ENV_VALUE_LEN {
            return Err(DriverError::invalid(format!(
                "{field}[{key}] is {} bytes; at most {MAX_ENV_VALUE_LEN}",
                value.len()
            )));
        }
        if value.contains(['\0', '\n', '\r']) {
            return Err(DriverError::invalid(format!(
                "{field}[{key}] contains a NUL, newline or carriage return"
            )));
        }
        total += key.len() + value.len();
    }
    if total > MAX_ENV_MAP_BYTES {
        return Err(DriverError::invalid(format!(
            "{field} is {total} bytes in all; at most {MAX_ENV_MAP_BYTES}"
        )));
    }
    Ok(())
}

/// A request's labels and annotations may not use the driver's prefixes: the driver's own
/// values would otherwise be overwritten, or an identity the gateway trusts be forged.
pub fn check_not_reserved<'a>(field: &str, keys: impl IntoIterator<Item = &'a String>) -> Result<(), DriverError> {
    for key in keys {
        if let Some(prefix) = RESERVED_METADATA_PREFIXES.iter().find(|p| key.starts_with(*p)) {
            return Err(DriverError::invalid(format!(
                "{field}: {key:?} uses the prefix {prefix}, which is reserved for the driver"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "request_rules_tests.rs"]
mod tests;
