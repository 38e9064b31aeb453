//! Kubernetes' grammar for what users and flags name: object names, label keys and values,
//! quantities and paths. Pure checks, each returning INVALID_ARGUMENT that names the field. A
//! leaf: the flags (`config`) and the rendering (`kubernetes`, `openshift`) both use it.

use crate::error::DriverError;

/// Public sandbox and workspace names: 1-19 chars of `[a-z0-9-]`, no edge `-`, no `--`.
pub fn validate_public_name(field: &str, value: &str) -> Result<(), DriverError> {
    let ok = !value.is_empty()
        && value.len() <= 19
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--");
    if ok {
        Ok(())
    } else {
        Err(DriverError::invalid(format!(
            "{field} {value:?} is invalid: use 1-19 characters of a-z, 0-9 and '-', \
             not starting or ending with '-' and without '--'"
        )))
    }
}

/// DNS-1123 label (namespace names, volume names).
pub fn is_dns_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// DNS-1123 subdomain (object names such as PVCs and Secrets).
pub fn is_dns_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns_label)
}

fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A label or annotation key: `[prefix/]name`.
pub fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

pub fn validate_label_key(field: &str, key: &str) -> Result<(), DriverError> {
    if is_label_key(key) {
        Ok(())
    } else {
        Err(DriverError::invalid(format!("{field}: {key:?} is not a valid key")))
    }
}

pub fn validate_label_value(field: &str, key: &str, value: &str) -> Result<(), DriverError> {
    if is_label_value(value) {
        Ok(())
    } else {
        Err(DriverError::invalid(format!(
            "{field}: value {value:?} of {key:?} is not a valid label value"
        )))
    }
}

/// Parses a Kubernetes quantity (`500m`, `1.5Gi`, `2e3`) to its value in base units.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let digits = number.trim_start_matches(['+', '-']);
    if digits.is_empty()
        || number.len() - digits.len() > 1
        || digits.contains(['+', '-'])
        || digits.matches('.').count() > 1
        || !digits.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let power: i32 = exp[1..].parse().ok()?;
            10f64.powi(power)
        }
        _ => return None,
    };
    Some(value * multiplier)
}

/// A non-negative quantity, or INVALID_ARGUMENT naming the field.
pub fn validate_quantity(field: &str, text: &str) -> Result<f64, DriverError> {
    match parse_quantity(text) {
        Some(v) if v >= 0.0 => Ok(v),
        _ => Err(DriverError::invalid(format!(
            "{field}: {text:?} is not a valid Kubernetes quantity (examples: 500m, 2, 1Gi)"
        ))),
    }
}

/// Mount and sub paths: no `..` segment, and absolute where the field needs it.
pub fn validate_path(field: &str, path: &str, absolute: bool) -> Result<(), DriverError> {
    if path.split('/').any(|seg| seg == "..") {
        return Err(DriverError::invalid(format!("{field}: {path:?} must not contain '..'")));
    }
    if absolute != path.starts_with('/') || path.is_empty() && absolute {
        let want = if absolute { "absolute" } else { "relative" };
        return Err(DriverError::invalid(format!(
            "{field}: {path:?} must be an {want} path"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
