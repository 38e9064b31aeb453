//! Pod failures: why a sandbox's pod cannot start, read from the Pod's status, and what the
//! gateway is told about it. Pure functions; the table they implement is docs/pod-failures.md.
//!
//! The controller reports a pod that waits forever as `Ready=False` / `DependenciesNotReady`,
//! which the gateway takes for "still starting". [`pod_failure`] finds the kubelet's or the
//! scheduler's reason in the Pod, and [`ready_overlay`] turns it into the `Ready` condition the
//! gateway sees: the failure's own reason (terminal for the gateway) once its grace is over, and
//! until then a transient reason carrying the kubelet's message.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::proto::DriverCondition;

/// Longest message passed on; kubelet messages can hold a whole registry response.
pub const MAX_MESSAGE: usize = 400;

/// How long a failure that may clear by itself stays transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grace {
    /// Terminal as soon as it is seen.
    None,
    /// Terminal once it has lasted this long.
    For(Duration),
    /// Terminal after `--unschedulable-timeout` (an autoscaler may add a node).
    Unschedulable,
}

/// One row of the table: a reason, and how soon it is terminal.
pub struct Rule {
    pub reason: &'static str,
    pub grace: Grace,
}

/// Image pulls retry with backoff; a registry hiccup or a slow mirror clears within a minute.
pub const PULL_GRACE: Duration = Duration::from_secs(45);
/// A Secret or ConfigMap the pod needs may be created just after the Sandbox (the token Secret is).
pub const CONFIG_GRACE: Duration = Duration::from_secs(30);

/// Waiting reasons of a container or init container, in the order of the docs table.
pub const WAITING_RULES: [Rule; 7] = [
    Rule {
        reason: "ErrImageNeverPull",
        grace: Grace::None,
    },
    Rule {
        reason: "InvalidImageName",
        grace: Grace::None,
    },
    Rule {
        reason: "ErrImagePull",
        grace: Grace::For(PULL_GRACE),
    },
    Rule {
        reason: "ImagePullBackOff",
        grace: Grace::For(PULL_GRACE),
    },
    Rule {
        reason: "CreateContainerConfigError",
        grace: Grace::For(CONFIG_GRACE),
    },
    Rule {
        reason: "CreateContainerError",
        grace: Grace::For(CONFIG_GRACE),
    },
    Rule {
        reason: "CrashLoopBackOff",
        grace: Grace::None,
    },
];

/// Terminated reasons that mean the process never ran (the runtime could not start it).
pub const START_FAILURES: [&str; 2] = ["StartError", "ContainerCannotRun"];

/// Reason of an init container that exited non-zero: the supervisor never got to run.
pub const INIT_FAILED: &str = "InitContainerFailed";
/// Reason of a pod the scheduler cannot place.
pub const UNSCHEDULABLE: &str = "Unschedulable";
/// Reason of a pod in phase Failed (evicted, deadline exceeded, ...) without a reason of its own.
pub const POD_FAILED: &str = "PodFailed";
/// Reason of a pod the API server refused to create, as ReplicaSets report it.
pub const FAILED_CREATE: &str = "FailedCreate";
/// An admin may add the missing SCC grant or quota; the controller retries with backoff.
pub const REFUSED_GRACE: Duration = Duration::from_secs(30);
/// The transient reason used while a failure is within its grace.
pub const PENDING_REASON: &str = "DependenciesNotReady";

/// Why a pod cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFailure {
    pub reason: String,
    /// The kubelet's or scheduler's message, trimmed and with credentials removed.
    pub message: String,
    /// Which container, when the failure is one container's.
    pub container: Option<String>,
    pub grace: Grace,
    /// When the failure began, when the Pod says (the PodScheduled condition's transition).
    pub since: Option<Timestamp>,
}

impl PodFailure {
    /// Same failure for announcing once: reason and container, not the (changing) message.
    pub fn key(&self) -> String {
        format!("{}/{}", self.reason, self.container.as_deref().unwrap_or(""))
    }

    /// The text the gateway shows: the container, then the kubelet's message.
    pub fn detail(&self) -> String {
        match &self.container {
            Some(c) if !self.message.is_empty() => format!("container {c}: {}", self.message),
            Some(c) => format!("container {c}"),
            None => self.message.clone(),
        }
    }
}

/// The first reason this pod cannot start, if any: init containers first (they run first), then
/// the containers, then the scheduler, then a failed pod.
pub fn pod_failure(pod: &Pod) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    let inits = status.init_container_statuses.iter().flatten();
    for c in inits {
        if let Some(f) = container_failure(c, true) {
            return Some(f);
        }
    }
    for c in status.container_statuses.iter().flatten() {
        if let Some(f) = container_failure(c, false) {
            return Some(f);
        }
    }
    let unschedulable = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some(UNSCHEDULABLE));
    if let Some(c) = unschedulable {
        return Some(PodFailure {
            reason: UNSCHEDULABLE.into(),
            message: clean_message(c.message.as_deref().unwrap_or_default()),
            container: None,
            grace: Grace::Unschedulable,
            since: c.last_transition_time.as_ref().map(|t| t.0),
        });
    }
    if status.phase.as_deref() == Some("Failed") {
        return Some(PodFailure {
            reason: status
                .reason
                .clone()
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| POD_FAILED.into()),
            message: clean_message(status.message.as_deref().unwrap_or_default()),
            container: None,
            grace: Grace::None,
            since: None,
        });
    }
    None
}

/// A pod the API server refused to create (admission: an SCC, a quota, a policy webhook) never
/// reaches the Pod watch. The controller then reports `Ready=False`, `ReconcilerError`, with the
/// API server's answer in the message; that answer is the pod's failure.
pub fn refused_pod(conditions: &[DriverCondition]) -> Option<PodFailure> {
    let ready = conditions
        .iter()
        .find(|c| c.r#type == "Ready" && c.status == "False" && c.reason == "ReconcilerError")?;
    let refusal = &ready.message[ready.message.find("pods \"")?..];
    if !refusal.contains("\" is forbidden") {
        return None;
    }
    Some(PodFailure {
        reason: FAILED_CREATE.into(),
        message: clean_message(refusal),
        container: None,
        grace: Grace::For(REFUSED_GRACE),
        since: None,
    })
}

fn container_failure(c: &ContainerStatus, init: bool) -> Option<PodFailure> {
    let failure = |reason: &str, message: &str, grace: Grace| PodFailure {
        reason: reason.to_string(),
        message: clean_message(message),
        container: Some(c.name.clone()),
        grace,
        since: None,
    };
    let state = c.state.as_ref()?;
    if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if let Some(rule) = WAITING_RULES.iter().find(|r| r.reason == reason) {
            let mut message = waiting.message.clone().unwrap_or_default();
            // A crash loop's own message says only "back-off restarting"; the last exit says why.
            if reason == "CrashLoopBackOff"
                && let Some(last) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            {
                message = exit_text(last.exit_code, last.reason.as_deref(), last.message.as_deref());
            }
            return Some(failure(reason, &message, rule.grace));
        }
    }
    let terminated = state
        .terminated
        .as_ref()
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()))?;
    let reason = terminated.reason.as_deref().unwrap_or_default();
    let text = exit_text(terminated.exit_code, Some(reason), terminated.message.as_deref());
    if START_FAILURES.contains(&reason) {
        return Some(failure(reason, &text, Grace::None));
    }
    if init && terminated.exit_code != 0 {
        return Some(failure(INIT_FAILED, &text, Grace::None));
    }
    None
}

fn exit_text(code: i32, reason: Option<&str>, message: Option<&str>) -> String {
    let mut text = format!("exited with code {code}");
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        text.push_str(&format!(" ({r})"));
    }
    if let Some(m) = message.filter(|m| !m.trim().is_empty()) {
        text.push_str(": ");
        text.push_str(m.trim());
    }
    text
}

/// One line, at most [`MAX_MESSAGE`] characters, credentials removed: `user:password@` in URLs
/// and the value after `Bearer`, `token=`, `password=`.
pub fn clean_message(message: &str) -> String {
    let words: Vec<String> = message.split_whitespace().map(redact_word).collect();
    let mut out = String::new();
    let mut redact_next = false;
    for word in words {
        if !out.is_empty() {
            out.push(' ');
        }
        if redact_next {
            out.push_str("[redacted]");
            redact_next = false;
            continue;
        }
        redact_next = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("basic");
        out.push_str(&word);
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE - 1).collect();
        out.push('…');
    }
    out
}

fn redact_word(word: &str) -> String {
    let mut word = word.to_string();
    if let Some(scheme) = word.find("://") {
        let rest = &word[scheme + 3..];
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            word = format!("{}[redacted]{}", &word[..scheme + 3], &rest[at..]);
        }
    }
    for key in ["token=", "password=", "secret="] {
        if let Some(pos) = word.to_ascii_lowercase().find(key) {
            let start = pos + key.len();
            let end = word[start..]
                .find(['&', ',', ';', '"', '\''])
                .map_or(word.len(), |e| start + e);
            word.replace_range(start..end, "[redacted]");
        }
    }
    word
}

/// When `failure`, first seen by the driver at `first_seen`, becomes terminal for the gateway.
pub fn terminal_at(failure: &PodFailure, first_seen: Timestamp, unschedulable_timeout: Duration) -> Timestamp {
    let after = |d: Duration| {
        let start = failure.since.unwrap_or(first_seen).min(first_seen);
        start
            .saturating_add(SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX)
    };
    match failure.grace {
        Grace::None => first_seen.min(failure.since.unwrap_or(first_seen)),
        Grace::For(d) => after(d),
        Grace::Unschedulable => after(unschedulable_timeout),
    }
}

/// The `Ready` condition the gateway sees, given the controller's conditions and the pod's
/// failure: unchanged when the pod is fine or the sandbox is ready; otherwise the failure's own
/// reason once terminal, and before that the controller's transient reason with the kubelet's
/// message. Returns the new conditions and whether the failure is terminal now.
pub fn ready_overlay(
    conditions: &[DriverCondition],
    failure: Option<&PodFailure>,
    first_seen: Timestamp,
    now: Timestamp,
    unschedulable_timeout: Duration,
) -> (Vec<DriverCondition>, bool) {
    let mut out = conditions.to_vec();
    let Some(failure) = failure else {
        return (out, false);
    };
    let ready_now = out.iter().any(|c| c.r#type == "Ready" && c.status == "True");
    let suspended = out.iter().any(|c| c.r#type == "Suspended" && c.status == "True");
    if ready_now || suspended {
        return (out, false);
    }
    let deadline = terminal_at(failure, first_seen, unschedulable_timeout);
    let terminal = now >= deadline;
    let (reason, message) = if terminal {
        (failure.reason.clone(), failure.detail())
    } else {
        // An absolute deadline, not a countdown: the snapshot must not change on every tick.
        (
            String::new(),
            format!(
                "{}: {} (fails at {} unless it clears)",
                failure.reason,
                failure.detail(),
                deadline.round(k8s_openapi::jiff::Unit::Second).unwrap_or(deadline)
            ),
        )
    };
    let transition = if terminal { deadline.to_string() } else { String::new() };
    match out.iter_mut().find(|c| c.r#type == "Ready") {
        Some(c) => {
            if terminal {
                c.reason = reason;
                c.last_transition_time = transition;
            } else if !crate::proto::phase::TRANSIENT_REASONS.contains(&c.reason.as_str()) {
                c.reason = PENDING_REASON.into();
            }
            c.status = "False".into();
            c.message = message;
        }
        None => out.push(DriverCondition {
            r#type: "Ready".into(),
            status: "False".into(),
            reason: if terminal { reason } else { PENDING_REASON.into() },
            message,
            last_transition_time: transition,
        }),
    }
    (out, terminal)
}

#[cfg(test)]
#[path = "pod_status_tests.rs"]
mod tests;
