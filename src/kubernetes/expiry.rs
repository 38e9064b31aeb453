//! Expiry: a sandbox's time to live (`driver_config.ttl`, else `--default-ttl`) becomes the
//! Sandbox's `spec.shutdownTime` and `spec.shutdownPolicy`; the agent-sandbox controller tears
//! the pod down then, and with `Retain` keeps the object with `Ready=False, SandboxExpired`.
//! Pure: the clock comes in as an argument.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};

pub use crate::config::expiry::{ExpiryPolicy, parse_default_ttl, parse_ttl};
use crate::error::DriverError;
use crate::proto::DriverCondition;

/// The controller's `Ready=False` reason of a sandbox past its shutdownTime.
pub const EXPIRED_REASON: &str = "SandboxExpired";

/// The request's TTL, else the driver's default; zero is never.
pub fn effective_ttl(
    requested: Option<&serde_json::Value>,
    default: Duration,
) -> Result<Option<Duration>, DriverError> {
    let ttl = match requested {
        Some(value) => {
            let text = value.as_str().ok_or_else(|| {
                DriverError::invalid(format!(
                    "driver_config.ttl: {value} is not a duration string (e.g. \"8h\")"
                ))
            })?;
            let ttl = parse_ttl("driver_config.ttl", text).map_err(DriverError::invalid)?;
            if ttl < Duration::from_secs(1) {
                return Err(DriverError::invalid(format!(
                    "driver_config.ttl: {text:?} is below one second (leave it out for the driver's default)"
                )));
            }
            ttl
        }
        None => default,
    };
    Ok((!ttl.is_zero()).then_some(ttl))
}

/// `spec.shutdownTime` for a sandbox created at `now` that lives `ttl`, to the second.
pub fn shutdown_time(now: Timestamp, ttl: Duration) -> Result<String, DriverError> {
    let ttl = SignedDuration::try_from(ttl).map_err(|e| DriverError::invalid(format!("driver_config.ttl: {e}")))?;
    let at = now
        .checked_add(ttl)
        .map_err(|e| DriverError::invalid(format!("driver_config.ttl: {e}")))?;
    Ok(Timestamp::from_second(at.as_second())
        .map_err(|e| DriverError::invalid(format!("driver_config.ttl: {e}")))?
        .to_string())
}

/// An expired sandbox is stopped, not failed: the controller removed its pod on purpose. The
/// gateway reads `Suspended=True` as stopped before it looks at `Ready`, so this condition is
/// laid over the controller's when `Ready=False` says `SandboxExpired`.
pub fn expired_condition(conditions: &[DriverCondition]) -> Option<DriverCondition> {
    let ready = conditions
        .iter()
        .find(|c| c.r#type == "Ready" && c.status == "False" && c.reason == EXPIRED_REASON)?;
    if conditions.iter().any(|c| c.r#type == "Suspended" && c.status == "True") {
        return None;
    }
    Some(DriverCondition {
        r#type: "Suspended".into(),
        status: "True".into(),
        reason: EXPIRED_REASON.into(),
        message: if ready.message.is_empty() {
            "the sandbox reached its shutdownTime (its time to live) and its pod was removed".into()
        } else {
            ready.message.clone()
        },
        last_transition_time: ready.last_transition_time.clone(),
    })
}

/// An expired sandbox cannot be started again: its shutdownTime has passed, and the controller
/// would remove the new pod at once.
pub fn refuse_start(conditions: &[DriverCondition], id: &str) -> Result<(), DriverError> {
    match conditions
        .iter()
        .find(|c| c.r#type == "Ready" && c.status == "False" && c.reason == EXPIRED_REASON)
    {
        Some(c) => Err(DriverError::FailedPrecondition(format!(
            "sandbox {id} has expired ({EXPIRED_REASON}: {}); its time to live (driver_config.ttl or --default-ttl) is over: create a new one",
            c.message
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "expiry_tests.rs"]
mod tests;
