//! [`OpenShiftEnricher`]: the I/O around the pure OpenShift rules. It discovers the platform,
//! reads namespaces and SCCs, asks the API server whether the sandbox ServiceAccount may use the
//! SCC, writes Services, Routes and cookie Secrets, and follows Routes for hosts and refusals.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;
use kube::api::Api;
use tokio::sync::watch;

use crate::config::{DriverConfig, PlatformMode};
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::enricher::{CreatedSandbox, PlatformEnricher, PlatformEvents};
use crate::kubernetes::nodes::NodeStore;
use crate::kubernetes::render::RenderedSandbox;
use crate::kubernetes::status::SandboxView;
use crate::metrics::DriverMetrics;
use crate::openshift::api::{ROUTE_PLURAL, SCC_PLURAL, route_resource, scc_resource};
use crate::openshift::decision::decide;
use crate::openshift::detect::{PlatformFacts, openshift_active, selinux_choice};
use crate::openshift::expose::EXPOSE_KEY;

/// The `platform_config` keys this enricher handles (rendering must not refuse them).
pub const PLATFORM_CONFIG_KEYS: &[&str] = &[EXPOSE_KEY];
use crate::openshift::namespace::{NamespaceSecurity, allocation_pending, is_selinux_type, namespace_security};
use crate::openshift::pod::{OpenShiftPlan, apply_plan, expose_names};
use crate::openshift::routes::RouteState;
use crate::openshift::scc::sandbox_volume_types;
use crate::proto::DriverSandbox;
use crate::provisioner::SandboxEndpoint;

mod routes;
mod scc;

/// How often discovery runs again, so that installing OpenShift APIs or labelling nodes is
/// noticed without a restart.
const REDISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
/// How long a call waits for the first discovery before answering UNAVAILABLE.
const FIRST_DISCOVERY_WAIT: Duration = Duration::from_secs(3);
/// The longest a create waits for the authorizer to see an SCC grant it just made.
const GRANT_PROPAGATION_WAIT: Duration = Duration::from_secs(5);
/// The longest a create waits for a brand-new namespace's SCC annotations.
const ALLOCATION_WAIT: Duration = Duration::from_secs(5);

pub struct OpenShiftEnricher {
    config: Arc<DriverConfig>,
    kube: KubeCalls,
    nodes: NodeStore,
    /// `None` until the first discovery answered.
    facts: watch::Sender<Option<PlatformFacts>>,
    /// Sandbox id → its Route, from the Route watch.
    routes: RwLock<HashMap<String, RouteState>>,
}

impl OpenShiftEnricher {
    pub fn new(
        config: Arc<DriverConfig>,
        client: kube::Client,
        nodes: NodeStore,
        metrics: Arc<dyn DriverMetrics>,
    ) -> Result<Arc<Self>, DriverError> {
        let selinux_type = &config.openshift.selinux_type;
        if !selinux_type.is_empty() && !is_selinux_type(selinux_type) {
            return Err(DriverError::invalid(format!(
                "--selinux-type {selinux_type:?} is not an SELinux type name (e.g. openshell_agent_t)"
            )));
        }
        // Plain Kubernetes needs no discovery: its facts are known now.
        let known = (config.openshift.platform == PlatformMode::Kubernetes).then(PlatformFacts::default);
        Ok(Arc::new(Self {
            kube: KubeCalls {
                client,
                timeout: config.kube_api_timeout,
                metrics,
            },
            config,
            nodes,
            facts: watch::channel(known).0,
            routes: RwLock::new(HashMap::new()),
        }))
    }

    fn mode(&self) -> PlatformMode {
        self.config.openshift.platform
    }

    async fn discover(&self) -> Result<PlatformFacts, DriverError> {
        let label = &self.config.openshift.selinux_detect_label;
        let selinux_labels = if label.is_empty() || !self.config.openshift.selinux_type.is_empty() {
            Vec::new()
        } else {
            let nodes = self.nodes.nodes(self.config.kube_api_timeout).await?;
            nodes.iter().filter_map(|n| n.labels().get(label).cloned()).collect()
        };
        Ok(PlatformFacts {
            scc_api: self.kube.serves(&scc_resource().api_version, SCC_PLURAL).await?,
            route_api: self.kube.serves(&route_resource().api_version, ROUTE_PLURAL).await?,
            selinux_labels,
        })
    }

    /// Discovers now and every REDISCOVERY_INTERVAL; starts the Route watch once Routes are
    /// served and the OpenShift additions apply.
    async fn discovery_loop(self: Arc<Self>, events: PlatformEvents, mut shutdown: watch::Receiver<bool>) {
        let mut routes_watched = false;
        loop {
            let wait = match self.discover().await {
                Ok(facts) => {
                    let changed = self.facts.borrow().as_ref() != Some(&facts);
                    if changed {
                        tracing::info!(
                            scc_api = facts.scc_api,
                            route_api = facts.route_api,
                            active = openshift_active(self.mode(), &facts),
                            selinux = ?selinux_choice(&self.config.openshift, &facts).map(|c| c.type_name),
                            "platform discovered"
                        );
                    }
                    if !routes_watched && facts.route_api && openshift_active(self.mode(), &facts) {
                        routes_watched = true;
                        tokio::spawn(Arc::clone(&self).watch_routes(events.clone(), shutdown.clone()));
                    }
                    self.facts.send_replace(Some(facts));
                    REDISCOVERY_INTERVAL
                }
                Err(e) => {
                    tracing::debug!(error = %e, "platform discovery failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// The discovered facts, waiting briefly for the first discovery.
    async fn facts(&self) -> Result<PlatformFacts, DriverError> {
        let mut facts = self.facts.subscribe();
        let _ = tokio::time::timeout(FIRST_DISCOVERY_WAIT, facts.wait_for(Option::is_some)).await;
        self.facts
            .borrow()
            .clone()
            .ok_or_else(|| DriverError::Unavailable("platform discovery has not reached the API server yet".into()))
    }

    /// The plan for `rendered`, or `None` on plain Kubernetes (where exposure is refused).
    async fn plan_for(
        &self,
        request: &DriverSandbox,
        rendered: &RenderedSandbox,
    ) -> Result<Option<OpenShiftPlan>, DriverError> {
        let facts = self.facts().await?;
        let Some(applies) = decide(&self.config, &facts, request)? else {
            return Ok(None);
        };
        let security = self.namespace_security(&rendered.identity.namespace).await?;
        Ok(Some(applies.plan(&self.config, &facts, &security)))
    }

    /// A namespace that does not exist yet (managed mode, before its first sandbox) has no
    /// allocations; the create makes it. One made seconds ago (managed mode) is given a moment
    /// to receive them.
    async fn namespace_security(&self, name: &str) -> Result<NamespaceSecurity, DriverError> {
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let deadline = tokio::time::Instant::now() + ALLOCATION_WAIT;
        loop {
            let ns = match self.kube.call("get", "namespaces", namespaces.get(name)).await {
                Ok(ns) => ns,
                Err(DriverError::NotFound(_)) => return Ok(NamespaceSecurity::default()),
                Err(e) => return Err(e),
            };
            let annotations = ns.annotations();
            let age = ns.creation_timestamp().map_or(i64::MAX, |t| age_secs(t.0.as_second()));
            if !allocation_pending(annotations, age) || tokio::time::Instant::now() >= deadline {
                return namespace_security(name, annotations);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Seconds since `created` (Unix seconds), by the system clock.
fn age_secs(created: i64) -> i64 {
    unix_now().as_secs() as i64 - created
}

pub(super) fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// A create retried after a partial failure finds its own object again.
pub(super) fn tolerate_existing<T>(result: Result<T, DriverError>) -> Result<(), DriverError> {
    match result {
        Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[async_trait::async_trait]
impl PlatformEnricher for OpenShiftEnricher {
    fn start(self: Arc<Self>, events: PlatformEvents, shutdown: watch::Receiver<bool>) {
        if self.mode() != PlatformMode::Kubernetes {
            tokio::spawn(self.discovery_loop(events, shutdown));
        }
    }

    fn platform_config_keys(&self) -> &'static [&'static str] {
        PLATFORM_CONFIG_KEYS
    }

    async fn validate(&self, request: &DriverSandbox, rendered: &RenderedSandbox) -> Result<(), DriverError> {
        let Some(plan) = self.plan_for(request, rendered).await? else {
            return Ok(());
        };
        let namespace = &rendered.identity.namespace;
        let volumes = sandbox_volume_types(&rendered.manifest.spec);
        if self.grants_scc() {
            // The create binds the SCC in the workspace namespace; only the SCC itself is checked.
            self.check_scc_admits(namespace, &plan, &volumes).await
        } else {
            self.check_scc(namespace, &plan, &volumes).await
        }
    }

    async fn enrich(&self, request: &DriverSandbox, rendered: &mut RenderedSandbox) -> Result<(), DriverError> {
        let Some(plan) = self.plan_for(request, rendered).await? else {
            return Ok(());
        };
        let identity = &rendered.identity;
        let volumes = sandbox_volume_types(&rendered.manifest.spec);
        if self.grants_scc() {
            self.check_scc_admits(&identity.namespace, &plan, &volumes).await?;
            self.grant_scc(&identity.namespace, &plan).await?;
        } else {
            self.check_scc(&identity.namespace, &plan, &volumes).await?;
        }
        let names = expose_names(&identity.object_name);
        apply_plan(&mut rendered.manifest, &plan, &names)
    }

    async fn after_create(
        &self,
        request: &DriverSandbox,
        rendered: &RenderedSandbox,
        created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        self.create_companions(request, rendered, created).await
    }

    async fn on_delete(&self, sandbox: &SandboxView) -> Result<(), DriverError> {
        // The Route, Service and cookie Secret go with the Sandbox; the ServiceAccount is not
        // ours, so its redirect annotation is removed here.
        let client = self
            .routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(sandbox.id())
            .and_then(|r| r.oauth_client.clone());
        if let Some(account) = client {
            let key = expose_names(&sandbox.object_name).redirect_annotation;
            match self
                .annotate_service_account(&sandbox.namespace, &account, &key, None)
                .await
            {
                Ok(()) | Err(DriverError::NotFound(_)) => {}
                Err(e) => {
                    tracing::warn!(sandbox_id = %sandbox.id(), error = %e, "could not remove the OAuth redirect annotation")
                }
            }
        }
        Ok(())
    }

    fn decorate_endpoint(&self, sandbox: &SandboxView, endpoint: &mut SandboxEndpoint) {
        if let Some(route) = self.routes.read().unwrap_or_else(|e| e.into_inner()).get(sandbox.id()) {
            endpoint.route_host = route.host.clone();
        }
    }
}
