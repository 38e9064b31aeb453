//! A warm pool member's identity, delivered late (issue #18). The member's pod starts before any
//! sandbox exists; the launcher (`wait-identity`) waits in front of the supervisor until a bind
//! delivers the sandbox's identity into the pod's `identity` volume, then execs the supervisor
//! with exactly the environment a cold pod would have had. The volume is projected:
//! - `sandbox-id` and `environment`, from the member's identity Secret (optional, so the pod
//!   starts without it; written at bind);
//! - `pod-sandbox-id`, the pod's own `openshell.io/sandbox-id` annotation (downward API). It is
//!   refreshed from the pod object the kubelet received, so once it names the sandbox the
//!   gateway's service-account check (which reads that annotation live) will find it too.
//!
//! std only: the launcher binary includes this file directly (`#[path]`), as the driver does.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// The identity Secret's key with the sandbox id, and its file in the volume.
pub const SANDBOX_ID_FILE: &str = "sandbox-id";
/// The identity Secret's key with the per-sandbox environment (`NAME=VALUE`, NUL-separated).
pub const ENVIRONMENT_FILE: &str = "environment";
/// The downward-API file of the pod's `openshell.io/sandbox-id` annotation.
pub const POD_SANDBOX_ID_FILE: &str = "pod-sandbox-id";
/// The variable that must carry the same id in the delivered environment.
pub const SANDBOX_ID_VAR: &str = "OPENSHELL_SANDBOX_ID";

/// The environment file's bytes. Variable values cannot hold a NUL, so it separates them.
pub fn encode_environment<'a>(env: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in env {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

pub fn decode_environment(bytes: &[u8]) -> Result<Vec<(OsString, OsString)>, String> {
    bytes
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let at = entry
                .iter()
                .position(|b| *b == b'=')
                .filter(|at| *at > 0)
                .ok_or("an entry of the identity environment is not NAME=VALUE")?;
            let (name, value) = (&entry[..at], &entry[at + 1..]);
            Ok((OsString::from_vec(name.to_vec()), OsString::from_vec(value.to_vec())))
        })
        .collect()
}

/// What the volume holds now.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Not bound yet, or bound and not delivered yet: wait.
    Waiting(&'static str),
    /// The identity: the environment to add, for the sandbox of this id.
    Bound {
        sandbox_id: String,
        env: Vec<(OsString, OsString)>,
    },
    /// Something no bind writes: the member must not start (the pool replaces it).
    Refused(String),
}

pub fn read_delivery(dir: &Path) -> Delivery {
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let Some(pod_id) = read(POD_SANDBOX_ID_FILE).map(trimmed).filter(|id| !id.is_empty()) else {
        return Delivery::Waiting("no sandbox is bound to this pod yet");
    };
    let (Some(secret_id), Some(env)) = (read(SANDBOX_ID_FILE).map(trimmed), read(ENVIRONMENT_FILE)) else {
        return Delivery::Waiting("the pod is bound; its identity is not delivered yet");
    };
    if secret_id != pod_id {
        return Delivery::Refused(format!(
            "the delivered identity is for sandbox {secret_id}, the pod is bound to {pod_id}"
        ));
    }
    let env = match decode_environment(&env) {
        Ok(env) => env,
        Err(e) => return Delivery::Refused(e),
    };
    let named = env
        .iter()
        .find(|(name, _)| name == SANDBOX_ID_VAR)
        .map(|(_, value)| value.to_string_lossy().into_owned());
    if named.as_deref() != Some(pod_id.as_str()) {
        return Delivery::Refused(format!("the delivered environment does not name sandbox {pod_id}"));
    }
    Delivery::Bound {
        sandbox_id: pod_id,
        env,
    }
}

fn trimmed(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// The supervisor's environment: `base` (the container's, already scrubbed) with the delivered
/// variables set over it.
pub fn with_identity(
    base: Vec<(OsString, OsString)>,
    delivered: Vec<(OsString, OsString)>,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = base
        .into_iter()
        .filter(|(name, _)| !delivered.iter().any(|(d, _)| d == name))
        .collect();
    env.extend(delivered);
    env
}

#[cfg(test)]
#[path = "warm_identity_tests.rs"]
mod tests;
