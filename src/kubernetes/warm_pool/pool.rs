//! The pool's state: the unbound members the Sandbox watch has seen, by key, and the profiles
//! they serve. Binds take members from here; the reconciler reads what is missing and what
//! must go. No I/O: the provisioner feeds it watch events and acts on its answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::DynamicObject;
use kube::runtime::watcher;

pub use super::member::BIND_INTENT_ANNOTATION;
use super::member::{LABEL_WARM_KEY, LABEL_WARM_PROFILE, is_unbound};
use crate::config::warm_pool::PoolProfile;

/// One profile as the driver runs it: its key and the namespace its members live in.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEntry {
    pub profile: PoolProfile,
    pub key: String,
    pub namespace: String,
}

/// An unbound member as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub namespace: String,
    pub key: String,
    pub profile: String,
    pub uid: String,
    pub resource_version: String,
    pub ready: bool,
    /// When it became Ready (its condition's `lastTransitionTime`).
    pub ready_since: Option<Timestamp>,
    /// A bind claimed it and did not finish.
    pub claimed: bool,
    pub deleting: bool,
}

impl Member {
    fn of(obj: &DynamicObject) -> Option<Self> {
        let labels = obj.labels();
        if !is_unbound(labels) {
            return None;
        }
        Some(Self {
            name: obj.name_any(),
            namespace: obj.namespace().unwrap_or_default(),
            key: labels.get(LABEL_WARM_KEY)?.clone(),
            profile: labels.get(LABEL_WARM_PROFILE).cloned().unwrap_or_default(),
            uid: obj.uid().unwrap_or_default(),
            resource_version: obj.resource_version().unwrap_or_default(),
            ready: is_ready(obj),
            ready_since: ready_since(obj),
            claimed: obj.annotations().contains_key(BIND_INTENT_ANNOTATION),
            deleting: obj.metadata.deletion_timestamp.is_some(),
        })
    }
}

fn is_ready(obj: &DynamicObject) -> bool {
    obj.data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn ready_since(obj: &DynamicObject) -> Option<Timestamp> {
    let conditions = obj.data.pointer("/status/conditions")?.as_array()?;
    let ready = conditions
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?;
    ready["lastTransitionTime"].as_str()?.parse().ok()
}

/// Members by state, for the metric and `check`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ready: usize,
    pub starting: usize,
}

#[derive(Debug, Default)]
struct State {
    /// The profiles as rendered once the API server answered (empty until then).
    entries: Vec<PoolEntry>,
    members: BTreeMap<String, Member>,
    /// Members a bind in this process has taken: never handed out twice.
    taken: BTreeSet<String>,
    /// While the watch relists: what it has listed so far.
    relisting: Option<BTreeMap<String, Member>>,
    synced: bool,
    /// The profiles are known (possibly none): until then nothing is removed.
    configured: bool,
}

#[derive(Debug, Default)]
pub struct Pool {
    state: Mutex<State>,
}

impl Pool {
    pub fn new(entries: Vec<PoolEntry>) -> Self {
        let pool = Self::default();
        pool.set_entries(entries);
        pool
    }

    pub fn set_entries(&self, entries: Vec<PoolEntry>) {
        let mut state = self.state();
        state.entries = entries;
        state.configured = true;
    }

    pub fn entries(&self) -> Vec<PoolEntry> {
        self.state().entries.clone()
    }

    /// A member just created, counted until the watch reports it (or a relist forgets it).
    pub fn expect(&self, member: Member) {
        let key = format!("{}/{}", member.namespace, member.name);
        self.state().members.entry(key).or_insert(member);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the watch has listed once: before that, nothing is bound, made or removed.
    pub fn synced(&self) -> bool {
        self.state().synced
    }

    /// One event of the driver's Sandbox watch (every Sandbox it owns; members are the
    /// unbound ones).
    pub fn observe(&self, event: &watcher::Event<DynamicObject>) {
        let mut state = self.state();
        let key = |obj: &DynamicObject| format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
        match event {
            watcher::Event::Init => state.relisting = Some(BTreeMap::new()),
            watcher::Event::InitApply(obj) => {
                if let (Some(list), Some(member)) = (state.relisting.as_mut(), Member::of(obj)) {
                    list.insert(key(obj), member);
                }
            }
            watcher::Event::InitDone => {
                let members = state.relisting.take().unwrap_or_default();
                state.taken.retain(|k| members.contains_key(k));
                state.members = members;
                state.synced = true;
            }
            watcher::Event::Apply(obj) => match Member::of(obj) {
                Some(member) => {
                    state.members.insert(key(obj), member);
                }
                None => {
                    // Bound (or no longer a member): gone from the pool for good.
                    let k = key(obj);
                    state.members.remove(&k);
                    state.taken.remove(&k);
                }
            },
            watcher::Event::Delete(obj) => {
                let k = key(obj);
                state.members.remove(&k);
                state.taken.remove(&k);
            }
        }
    }

    /// Takes a ready member of `key` that no bind has claimed: the one Ready the longest. The
    /// kubelet holds a pod's next sync until its container runtime relist (every second) after
    /// the previous sync, so a member that has just started would take the identity up to a
    /// second later. Ties go by name, so two drivers of one gateway tend to pick the same one
    /// and one loses at once.
    pub fn take(&self, key: &str) -> Option<Member> {
        let mut state = self.state();
        let found = state
            .members
            .iter()
            .filter(|(k, m)| m.key == key && m.ready && !m.claimed && !m.deleting && !state.taken.contains(*k))
            // `None` (no time given) sorts after every time: the least known idle.
            .min_by_key(|(k, m)| (m.ready_since.is_none(), m.ready_since, k.as_str()))
            .map(|(k, m)| (k.clone(), m.clone()))?;
        state.taken.insert(found.0);
        Some(found.1)
    }

    /// Members each profile lacks to reach its size (counting those still starting).
    pub fn missing(&self) -> Vec<(usize, usize)> {
        let state = self.state();
        state
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                let have = state
                    .members
                    .iter()
                    .filter(|(k, m)| m.key == entry.key && usable(m) && !state.taken.contains(*k))
                    .count();
                let want = entry.profile.size as usize;
                (have < want).then_some((i, want - have))
            })
            .collect()
    }

    /// Members to delete: of no current profile (removed, or its pod changed), or claimed by
    /// a bind that never finished.
    pub fn to_remove(&self) -> Vec<Member> {
        let state = self.state();
        if !state.configured || !state.synced {
            return Vec::new();
        }
        state
            .members
            .iter()
            .filter(|(k, m)| !m.deleting && !state.taken.contains(*k))
            .filter(|(_, m)| {
                m.claimed
                    || !state
                        .entries
                        .iter()
                        .any(|e| e.key == m.key && e.namespace == m.namespace)
            })
            .map(|(_, m)| m.clone())
            .collect()
    }

    pub fn counts(&self, profile: &str) -> Counts {
        let state = self.state();
        let mut counts = Counts::default();
        for (k, m) in &state.members {
            if m.profile != profile || !usable(m) || state.taken.contains(k) {
                continue;
            }
            if m.ready {
                counts.ready += 1;
            } else {
                counts.starting += 1;
            }
        }
        counts
    }

    /// The entry whose members a create of `key` in `namespace` may bind.
    pub fn entry_for(&self, key: &str, namespace: &str) -> Option<PoolEntry> {
        let state = self.state();
        state
            .entries
            .iter()
            .find(|e| e.key == key && e.namespace == namespace)
            .cloned()
    }
}

fn usable(m: &Member) -> bool {
    !m.claimed && !m.deleting
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
