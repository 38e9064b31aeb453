//! What an OpenShift namespace's SCC annotations say about the pods in it. Pure: the enricher
//! reads the Namespace, these functions interpret it.

use std::collections::BTreeMap;

use crate::error::DriverError;

pub const UID_RANGE_ANNOTATION: &str = "openshift.io/sa.scc.uid-range";
pub const SUPPLEMENTAL_GROUPS_ANNOTATION: &str = "openshift.io/sa.scc.supplemental-groups";
pub const MCS_ANNOTATION: &str = "openshift.io/sa.scc.mcs";

/// The namespace's allocations, as far as it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceSecurity {
    /// First UID of `openshift.io/sa.scc.uid-range`.
    pub uid: Option<u32>,
    /// First GID of the first block of `openshift.io/sa.scc.supplemental-groups`.
    pub gid: Option<u32>,
    /// `openshift.io/sa.scc.mcs`, e.g. `s0:c26,c5`.
    pub mcs_level: Option<String>,
}

/// Reads the SCC annotations of `namespace`. A malformed value is the cluster's problem, not the
/// request's: FAILED_PRECONDITION naming the namespace, the annotation and the value.
pub fn namespace_security(
    namespace: &str,
    annotations: &BTreeMap<String, String>,
) -> Result<NamespaceSecurity, DriverError> {
    let malformed = |key: &str, value: &str, expected: &str| {
        DriverError::FailedPrecondition(format!(
            "namespace {namespace}: annotation {key}={value:?} is malformed (expected {expected})"
        ))
    };
    let uid = match annotations.get(UID_RANGE_ANNOTATION) {
        None => None,
        Some(v) => Some(
            block_start(v).ok_or_else(|| malformed(UID_RANGE_ANNOTATION, v, "START/SIZE such as 1000680000/10000"))?,
        ),
    };
    let gid = match annotations.get(SUPPLEMENTAL_GROUPS_ANNOTATION) {
        None => None,
        Some(v) => {
            // A comma-separated list of blocks; every block must parse, the first one is used.
            let starts: Option<Vec<u32>> = v.split(',').map(block_start).collect();
            let first = starts.and_then(|s| s.first().copied());
            Some(first.ok_or_else(|| {
                malformed(
                    SUPPLEMENTAL_GROUPS_ANNOTATION,
                    v,
                    "START/SIZE[,START/SIZE...] such as 1000680000/10000",
                )
            })?)
        }
    };
    let mcs_level = match annotations.get(MCS_ANNOTATION) {
        None => None,
        Some(v) if is_mcs_level(v) => Some(v.clone()),
        Some(v) => return Err(malformed(MCS_ANNOTATION, v, "an MCS level such as s0:c26,c5")),
    };
    Ok(NamespaceSecurity { uid, gid, mcs_level })
}

/// How long OpenShift may take to annotate a namespace it just made (the allocation controller
/// runs asynchronously): a namespace younger than this without a UID range is waited for.
pub const ALLOCATION_GRACE_SECS: i64 = 10;

/// Whether a namespace `age_secs` old, with these annotations, may still get its allocation.
pub fn allocation_pending(annotations: &BTreeMap<String, String>, age_secs: i64) -> bool {
    !annotations.contains_key(UID_RANGE_ANNOTATION) && (0..ALLOCATION_GRACE_SECS).contains(&age_secs)
}

/// The first id of a block written `START/SIZE` or `START-END`, if the whole block is valid.
fn block_start(block: &str) -> Option<u32> {
    let block = block.trim();
    if let Some((start, size)) = block.split_once('/') {
        let (start, size) = (number(start)?, number(size)?);
        (size >= 1 && start.checked_add(size - 1).is_some()).then_some(start)
    } else if let Some((start, end)) = block.split_once('-') {
        let (start, end) = (number(start)?, number(end)?);
        (end >= start).then_some(start)
    } else {
        None
    }
}

fn number(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// An SELinux MLS/MCS level: `s0`, `s0-s0:c0.c1023`, `s0:c26,c5`.
pub fn is_mcs_level(level: &str) -> bool {
    let (sensitivity, categories) = match level.split_once(':') {
        Some((s, c)) => (s, Some(c)),
        None => (level, None),
    };
    let prefixed = |text: &str, p: char| text.strip_prefix(p).and_then(number).is_some();
    let sensitivity_ok = match sensitivity.split_once('-') {
        Some((low, high)) => prefixed(low, 's') && prefixed(high, 's'),
        None => prefixed(sensitivity, 's'),
    };
    let categories_ok = categories.is_none_or(|c| {
        c.split(',').all(|item| match item.split_once('.') {
            Some((low, high)) => prefixed(low, 'c') && prefixed(high, 'c'),
            None => prefixed(item, 'c'),
        })
    });
    sensitivity_ok && categories_ok
}

/// An SELinux type name such as `openshell_agent_t`.
pub fn is_selinux_type(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

#[cfg(test)]
#[path = "namespace_tests.rs"]
mod tests;
