//! The warm pool's I/O (`kubernetes::warm_pool` is the pure part): the reconciler that keeps
//! each profile at its size and removes what must go, and the bind a create tries first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};

use super::KubeProvisioner;
use crate::config::warm_pool::PoolProfile;
use crate::error::DriverError;
use crate::kubernetes::enricher::CreatedSandbox;
use crate::kubernetes::render::{RenderedSandbox, SandboxApiVersion};
use crate::kubernetes::warm_pool::key::pod_key;
use crate::kubernetes::warm_pool::member::{
    BoundMember, WarmMember, bind, claim_patch, into_member, member_name_for, member_request, stamp_max_age,
};
use crate::kubernetes::warm_pool::pool::{Member, PoolEntry};
use crate::proto::DriverSandbox;

/// How often the pool is brought back to size.
const RECONCILE_EVERY: Duration = Duration::from_secs(1);
/// A profile whose member could not be made waits this long, doubling, at most `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(120);
/// At most this many members made per profile per pass: a broken profile cannot flood the API.
const BURST: usize = 4;
/// Binds tried before a create goes cold (each loser moves on to the next member).
const BIND_ATTEMPTS: usize = 3;

impl KubeProvisioner {
    /// Renders each profile's member (enriched as a create's pod is, so that keys agree), then
    /// reconciles until shutdown.
    pub(super) async fn run_pool(self: Arc<Self>, version: SandboxApiVersion) {
        let mut entries = Vec::new();
        for profile in &self.config.warm_profiles {
            match self.render_member(profile, version, "warm-profile-check").await {
                Ok(member) => entries.push(PoolEntry {
                    profile: profile.clone(),
                    key: member.key,
                    namespace: member.manifest.metadata.namespace.clone().unwrap_or_default(),
                }),
                Err(e) => {
                    tracing::error!(profile = %profile.name, error = %e, "warm pool profile not rendered; it stays empty")
                }
            }
        }
        self.pool.set_entries(entries);
        let mut backoff: HashMap<String, (Duration, Instant)> = HashMap::new();
        let mut shutdown = self.shutdown.clone();
        loop {
            if self.pool.synced() {
                self.reconcile_pool(version, &mut backoff).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(RECONCILE_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn render_member(
        &self,
        profile: &PoolProfile,
        version: SandboxApiVersion,
        name: &str,
    ) -> Result<WarmMember, DriverError> {
        let request = member_request(profile, name);
        let mut rendered = self.render(&request, version)?;
        self.enricher.enrich(&request, &mut rendered).await?;
        into_member(rendered, profile, &self.config.gateway_id)
    }

    async fn reconcile_pool(&self, version: SandboxApiVersion, backoff: &mut HashMap<String, (Duration, Instant)>) {
        for member in self.pool.to_remove() {
            let why = if member.claimed {
                "a bind left half made"
            } else {
                "of no current profile"
            };
            tracing::info!(member = %member.name, namespace = %member.namespace, "removing a warm member {why}");
            self.remove_member(version, &member).await;
        }
        let entries = self.pool.entries();
        for (i, missing) in self.pool.missing() {
            let entry = &entries[i];
            if backoff
                .get(&entry.key)
                .is_some_and(|(_, until)| Instant::now() < *until)
            {
                continue;
            }
            for _ in 0..missing.min(BURST) {
                match self.make_member(version, entry).await {
                    Ok(()) => {
                        backoff.remove(&entry.key);
                    }
                    Err(e) => {
                        let wait = backoff
                            .get(&entry.key)
                            .map_or(FIRST_BACKOFF, |(w, _)| (*w * 2).min(MAX_BACKOFF));
                        tracing::warn!(profile = %entry.profile.name, error = %e, retry_in = ?wait, "warm member not made");
                        backoff.insert(entry.key.clone(), (wait, Instant::now() + wait));
                        break;
                    }
                }
            }
        }
        for entry in &entries {
            let counts = self.pool.counts(&entry.profile.name);
            self.metrics
                .warm_members(&entry.profile.name, counts.ready, counts.starting);
        }
    }

    async fn make_member(&self, version: SandboxApiVersion, entry: &PoolEntry) -> Result<(), DriverError> {
        let name = member_name(&entry.key)?;
        let mut member = self.render_member(&entry.profile, version, &name).await?;
        if member.key != entry.key {
            return Err(DriverError::Internal(format!(
                "warm pool profile {}: its pod changed since it was rendered (key {} now {})",
                entry.profile.name, entry.key, member.key
            )));
        }
        stamp_max_age(&mut member, &entry.profile, k8s_openapi::jiff::Timestamp::now())?;
        let object: DynamicObject = serde_json::to_value(&member.manifest)
            .and_then(serde_json::from_value)
            .map_err(|e| DriverError::Internal(format!("encoding a warm member: {e}")))?;
        let api = self.sandboxes_in(version, &entry.namespace);
        self.kube
            .call("create", "sandboxes", api.create(&PostParams::default(), &object))
            .await?;
        self.pool.expect(Member {
            name,
            namespace: entry.namespace.clone(),
            key: entry.key.clone(),
            profile: entry.profile.name.clone(),
            uid: String::new(),
            resource_version: String::new(),
            ready: false,
            ready_since: None,
            claimed: false,
            deleting: false,
        });
        Ok(())
    }

    async fn remove_member(&self, version: SandboxApiVersion, member: &Member) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(member.uid.clone()).filter(|u| !u.is_empty()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        let api = self.sandboxes_in(version, &member.namespace);
        match self
            .kube
            .call("delete", "sandboxes", api.delete(&member.name, &params))
            .await
        {
            Ok(_) | Err(DriverError::NotFound(_)) => {}
            Err(e) => tracing::warn!(member = %member.name, error = %e, "warm member not removed"),
        }
    }

    /// Binds `rendered` (the create, as a cold start would write it) to a warm member of its
    /// pod, if the pool has one ready: `None` sends the create down the cold path.
    pub(super) async fn bind_warm(
        &self,
        version: SandboxApiVersion,
        request: &DriverSandbox,
        rendered: &RenderedSandbox,
    ) -> Result<Option<CreatedSandbox>, DriverError> {
        if self.config.warm_profiles.is_empty() {
            return Ok(None);
        }
        let key = match pod_key(&rendered.manifest) {
            Ok(key) => key,
            Err(why) => {
                self.warm_miss(&request.id, why.reason());
                return Ok(None);
            }
        };
        let Some(entry) = self.pool.entry_for(&key, &rendered.identity.namespace) else {
            self.warm_miss(&request.id, "no_profile");
            return Ok(None);
        };
        for _ in 0..BIND_ATTEMPTS {
            let Some(member) = self.pool.take(&key) else {
                self.warm_miss(&request.id, "pool_empty");
                return Ok(None);
            };
            let started = Instant::now();
            let target = BoundMember {
                api: version,
                name: member.name.clone(),
                uid: member.uid.clone(),
                resource_version: member.resource_version.clone(),
            };
            match self.bind_member(rendered, &target).await {
                Ok(created) => {
                    let took = started.elapsed();
                    self.metrics.warm_bound(&entry.profile.name, took);
                    tracing::info!(sandbox_id = %request.id, member = %member.name, profile = %entry.profile.name, bind_ms = took.as_secs_f64() * 1000.0, "sandbox bound to a warm member");
                    return Ok(Some(created));
                }
                Err(BindError::Lost) => continue,
                Err(BindError::Failed(e)) => {
                    // Claimed: never handed out again. The reconciler removes it.
                    tracing::warn!(member = %member.name, error = %e, "warm bind failed; the create goes cold");
                    self.warm_miss(&request.id, "bind_failed");
                    return Ok(None);
                }
            }
        }
        self.warm_miss(&request.id, "bind_lost");
        Ok(None)
    }

    /// A create that a pool is configured for goes cold: counted, and logged with the reason.
    fn warm_miss(&self, sandbox_id: &str, reason: &'static str) {
        self.metrics.warm_miss(reason);
        tracing::info!(sandbox_id, reason, "warm pool miss; the create goes cold");
    }

    async fn bind_member(&self, rendered: &RenderedSandbox, target: &BoundMember) -> Result<CreatedSandbox, BindError> {
        let namespace = &rendered.identity.namespace;
        let api = self.sandboxes_in(target.api, namespace);
        let claim = claim_patch(target, &rendered.identity.id);
        match self
            .kube
            .call(
                "patch",
                "sandboxes",
                api.patch(&target.name, &PatchParams::default(), &Patch::Merge(&claim)),
            )
            .await
        {
            Ok(_) => {}
            // Another bind claimed it, or it changed (deleted, expired) since the pool saw it.
            Err(DriverError::AlreadyExists(_) | DriverError::NotFound(_)) => return Err(BindError::Lost),
            Err(e) => return Err(BindError::Failed(e)),
        }
        let bind = bind(rendered, target, &self.config.gateway_id);
        let secrets: kube::Api<Secret> = kube::Api::namespaced(self.kube.client.clone(), namespace);
        for secret in std::iter::once(&bind.identity_secret).chain(bind.token_secret.as_ref()) {
            self.kube
                .call("create", "secrets", secrets.create(&PostParams::default(), secret))
                .await
                .map_err(BindError::Failed)?;
        }
        self.kube
            .call(
                "patch",
                "sandboxes",
                api.patch(&target.name, &PatchParams::default(), &Patch::Merge(&bind.patch)),
            )
            .await
            .map_err(BindError::Failed)?;
        Ok(CreatedSandbox {
            api: target.api,
            namespace: namespace.clone(),
            name: target.name.clone(),
            uid: target.uid.clone(),
        })
    }
}

enum BindError {
    /// Another bind won the member: try the next.
    Lost,
    Failed(DriverError),
}

/// `warm-<key prefix>-<5 random>`: 19 characters, the longest a sandbox name may be.
fn member_name(key: &str) -> Result<String, DriverError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 5];
    getrandom::fill(&mut bytes).map_err(|e| DriverError::Internal(format!("no randomness for a member name: {e}")))?;
    let suffix: String = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    Ok(member_name_for(key, &suffix))
}
