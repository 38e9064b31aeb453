//! [`OpenShiftEnricher`]: the I/O around the pure OpenShift rules. It discovers the platform,
//! reads namespaces and SCCs, asks the API server whether the sandbox ServiceAccount may use the
//! SCC, writes Services, Routes and cookie Secrets, and follows Routes for hosts and refusals.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::config::{DriverConfig, PlatformMode, WorkspaceMode};
use crate::enricher::{CreatedSandbox, PlatformEnricher, PlatformEvents};
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::identity::{LABEL_GATEWAY_ID, LABEL_MANAGED_BY, MANAGED_BY, identity_of, ownership_selector};
use crate::kubernetes::nodes::NodeStore;
use crate::kubernetes::render::{SandboxManifest, owned_by_sandbox};
use crate::kubernetes::status::SandboxView;
use crate::metrics::DriverMetrics;
use crate::openshift::detect::{
    PlatformFacts, ROUTE_GROUP_VERSION, ROUTE_PLURAL, SCC_GROUP_VERSION, SCC_PLURAL, openshift_active, selinux_choice,
};
use crate::openshift::expose::{EXPOSE_KEY, exposure_of};
use crate::openshift::namespace::{NamespaceSecurity, allocation_pending, is_selinux_type, namespace_security};
use crate::openshift::pod::{OpenShiftPlan, apply_plan, companions, expose_names, plan, sandbox_service_account};
use crate::openshift::routes::{RouteState, new_rejections, rejection_event, route_state};
use crate::openshift::scc::{scc_grant, scc_problems};
use crate::proto::DriverSandbox;
use crate::provisioner::SandboxEndpoint;

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
            nodes
                .iter()
                .filter_map(|n| n.metadata.labels.as_ref()?.get(label).cloned())
                .collect()
        };
        Ok(PlatformFacts {
            scc_api: self.kube.serves(SCC_GROUP_VERSION, SCC_PLURAL).await?,
            route_api: self.kube.serves(ROUTE_GROUP_VERSION, ROUTE_PLURAL).await?,
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

    fn route_api(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("route.openshift.io", "v1", "Route"),
            ROUTE_PLURAL,
        )
    }

    fn routes_in(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.kube.client.clone(), namespace, &self.route_api())
    }

    async fn watch_routes(self: Arc<Self>, events: PlatformEvents, mut shutdown: watch::Receiver<bool>) {
        let api = match self.config.workspace_mode {
            WorkspaceMode::Shared => self.routes_in(&self.config.namespace),
            WorkspaceMode::Managed => Api::all_with(self.kube.client.clone(), &self.route_api()),
        };
        let config = watcher::Config::default().labels(&ownership_selector(&self.config.gateway_id));
        let mut stream = watcher(api, config).default_backoff().boxed();
        // Ids seen in the relist under way; Routes deleted during an outage are dropped at its end.
        let mut relisted = std::collections::HashSet::new();
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                _ = shutdown.changed() => return,
            };
            match next {
                Some(Ok(watcher::Event::Init)) => relisted.clear(),
                Some(Ok(watcher::Event::InitApply(route))) => {
                    if let Some(id) = self.route_changed(&route, &events) {
                        relisted.insert(id);
                    }
                }
                Some(Ok(watcher::Event::InitDone)) => self.routes_mut().retain(|id, _| relisted.contains(id)),
                Some(Ok(watcher::Event::Apply(route))) => {
                    self.route_changed(&route, &events);
                }
                Some(Ok(watcher::Event::Delete(route))) => {
                    if let Some(state) = serde_json::to_value(&route).ok().as_ref().and_then(route_state) {
                        self.routes_mut().remove(&state.sandbox_id);
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "Route watch failed; retrying with backoff"),
                None => return,
            }
        }
    }

    fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, RouteState>> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a Route and reports routers that newly refused it; returns its sandbox id.
    fn route_changed(&self, route: &DynamicObject, events: &PlatformEvents) -> Option<String> {
        let state = serde_json::to_value(route).ok().as_ref().and_then(route_state)?;
        let mut routes = self.routes_mut();
        let now = i64::try_from(unix_now().as_millis()).unwrap_or(i64::MAX);
        for rejection in new_rejections(routes.get(&state.sandbox_id), &state) {
            tracing::warn!(sandbox_id = %state.sandbox_id, route = %state.name, reason = %rejection.reason, "Route not admitted");
            events.publish(&state.sandbox_id, rejection_event(&state.name, rejection, now));
        }
        let id = state.sandbox_id.clone();
        routes.insert(id.clone(), state);
        Some(id)
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

    /// The plan for `request`, or `None` on plain Kubernetes (where exposure is refused).
    async fn plan_for(&self, request: &DriverSandbox) -> Result<Option<OpenShiftPlan>, DriverError> {
        let exposure = exposure_of(request, &self.config.openshift)?;
        let facts = self.facts().await?;
        if !openshift_active(self.mode(), &facts) {
            if exposure.is_some() {
                return Err(DriverError::FailedPrecondition(
                    "platform_config.expose needs OpenShift Routes, and this driver runs on plain Kubernetes \
                     (no security.openshift.io/v1 API, or --platform kubernetes); reach the sandbox through \
                     ResolveSandboxEndpoint instead"
                        .into(),
                ));
            }
            return Ok(None);
        }
        if exposure.is_some() && !facts.route_api {
            return Err(DriverError::FailedPrecondition(
                "platform_config.expose needs the route.openshift.io/v1 API, which this cluster does not serve".into(),
            ));
        }
        let identity = identity_of(request, &self.config)?;
        let namespace = self.namespace_security(&identity.namespace).await?;
        let selinux = selinux_choice(&self.config.openshift, &facts);
        Ok(Some(plan(
            &self.config,
            &self.config.sandbox_service_account,
            &namespace,
            selinux.as_ref(),
            exposure,
        )))
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
            let annotations = ns.metadata.annotations.unwrap_or_default();
            let age = ns
                .metadata
                .creation_timestamp
                .map_or(i64::MAX, |t| age_secs(t.0.as_second()));
            if !allocation_pending(&annotations, age) || tokio::time::Instant::now() >= deadline {
                return namespace_security(name, &annotations);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The SCC exists, would admit the pod, and the sandbox ServiceAccount may use it.
    async fn check_scc(&self, namespace: &str, plan: &OpenShiftPlan) -> Result<(), DriverError> {
        self.check_scc_admits(namespace, plan).await?;
        self.check_scc_use(namespace, plan).await
    }

    fn grant_command(namespace: &str, plan: &OpenShiftPlan) -> String {
        let (scc, sa) = (&plan.scc, &plan.service_account);
        format!("oc adm policy add-scc-to-user {scc} -z {sa} -n {namespace}")
    }

    /// The SCC exists and would admit the sandbox pod.
    async fn check_scc_admits(&self, namespace: &str, plan: &OpenShiftPlan) -> Result<(), DriverError> {
        let scc_name = &plan.scc;
        let grant = Self::grant_command(namespace, plan);
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("security.openshift.io", "v1", "SecurityContextConstraints"),
            SCC_PLURAL,
        );
        let sccs: Api<DynamicObject> = Api::all_with(self.kube.client.clone(), &resource);
        let scc = match self
            .kube
            .call("get", "securitycontextconstraints", sccs.get(scc_name))
            .await
        {
            Ok(scc) => scc,
            Err(DriverError::NotFound(_)) => {
                return Err(DriverError::FailedPrecondition(format!(
                    "SecurityContextConstraints {scc_name} does not exist: an admin applies deploy/openshift/scc.yaml \
                     (or the chart with openshift.enabled), then runs: {grant}"
                )));
            }
            Err(e) => return Err(e),
        };
        let stored = serde_json::to_value(&scc).map_err(|e| DriverError::Internal(format!("reading the SCC: {e}")))?;
        let problems = scc_problems(&stored, plan, &crate::kubernetes::supervisor::AGENT_CAPABILITIES);
        if !problems.is_empty() {
            return Err(DriverError::FailedPrecondition(format!(
                "SecurityContextConstraints {scc_name} would not admit sandbox pods: {}; compare it with deploy/openshift/scc.yaml",
                problems.join("; ")
            )));
        }
        Ok(())
    }

    /// A SubjectAccessReview: may the sandbox ServiceAccount `use` the SCC?
    async fn check_scc_use(&self, namespace: &str, plan: &OpenShiftPlan) -> Result<(), DriverError> {
        let (scc_name, sa) = (&plan.scc, &plan.service_account);
        let grant = Self::grant_command(namespace, plan);
        let user = format!("system:serviceaccount:{namespace}:{sa}");
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.clone()),
                // The groups OpenShift puts every ServiceAccount in, so group grants count too.
                groups: Some(vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{namespace}"),
                    "system:authenticated".into(),
                ]),
                resource_attributes: Some(ResourceAttributes {
                    group: Some("security.openshift.io".into()),
                    resource: Some(SCC_PLURAL.into()),
                    verb: Some("use".into()),
                    name: Some(scc_name.clone()),
                    namespace: Some(namespace.into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviews: Api<SubjectAccessReview> = Api::all(self.kube.client.clone());
        let answer = self
            .kube
            .call(
                "create",
                "subjectaccessreviews",
                reviews.create(&PostParams::default(), &review),
            )
            .await?;
        if answer.status.is_some_and(|s| s.allowed) {
            Ok(())
        } else {
            Err(DriverError::FailedPrecondition(format!(
                "ServiceAccount {namespace}/{sa} may not use SecurityContextConstraints {scc_name}, so sandbox pods \
                 would not be admitted; an admin grants it with: {grant}"
            )))
        }
    }

    /// The SCC preflight for a plain sandbox in `namespace` (for `check`): the SCC exists,
    /// would admit the pod, and the sandbox ServiceAccount may use it.
    pub async fn scc_preflight(&self, namespace: &str) -> Result<(), DriverError> {
        let facts = self.facts().await.unwrap_or_default();
        let security = self.namespace_security(namespace).await?;
        let selinux = selinux_choice(&self.config.openshift, &facts);
        let plan = plan(
            &self.config,
            &self.config.sandbox_service_account,
            &security,
            selinux.as_ref(),
            None,
        );
        self.check_scc(namespace, &plan).await
    }

    /// Managed workspaces are the driver's own namespaces, so it grants the SCC there itself.
    fn grants_scc(&self) -> bool {
        self.config.workspace_mode == WorkspaceMode::Managed && !self.config.openshift.scc_grant_cluster_role.is_empty()
    }

    /// Binds the SCC's ClusterRole to the sandbox ServiceAccount, then waits (briefly) until the
    /// authorizer sees the binding, which it learns from a watch.
    async fn grant_scc(&self, namespace: &str, plan: &OpenShiftPlan) -> Result<(), DriverError> {
        // Granted already (by an earlier create, or an admin): nothing to write.
        match self.check_scc_use(namespace, plan).await {
            Err(DriverError::FailedPrecondition(_)) => {}
            other => return other,
        }
        let labels = BTreeMap::from([
            (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
            (LABEL_GATEWAY_ID.to_string(), self.config.gateway_id.clone()),
        ]);
        let binding = scc_grant(
            namespace,
            &plan.service_account,
            &self.config.openshift.scc_grant_cluster_role,
            labels,
        );
        let bindings: Api<RoleBinding> = Api::namespaced(self.kube.client.clone(), namespace);
        tolerate_existing(
            self.kube
                .call(
                    "create",
                    "rolebindings",
                    bindings.create(&PostParams::default(), &binding),
                )
                .await,
        )?;
        let deadline = tokio::time::Instant::now() + GRANT_PROPAGATION_WAIT;
        loop {
            match self.check_scc_use(namespace, plan).await {
                Err(DriverError::FailedPrecondition(_)) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    async fn create_companions(&self, request: &DriverSandbox, created: &CreatedSandbox) -> Result<(), DriverError> {
        // `enrich` has checked everything already; only an exposed sandbox has companions.
        let Some(exposure) = exposure_of(request, &self.config.openshift)? else {
            return Ok(());
        };
        let identity = identity_of(request, &self.config)?;
        let owner = owned_by_sandbox(created.api, &created.name, &created.uid);
        let service_account = sandbox_service_account(&self.config.sandbox_service_account);
        let made = companions(
            &identity,
            &self.config.gateway_id,
            &exposure,
            &service_account,
            Some(owner),
            &cookie_secret()?,
        );
        let ns = &created.namespace;
        if let Some(secret) = &made.cookie_secret {
            let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), ns);
            tolerate_existing(
                self.kube
                    .call("create", "secrets", secrets.create(&PostParams::default(), secret))
                    .await,
            )?;
        }
        let services: Api<Service> = Api::namespaced(self.kube.client.clone(), ns);
        tolerate_existing(
            self.kube
                .call(
                    "create",
                    "services",
                    services.create(&PostParams::default(), &made.service),
                )
                .await,
        )?;
        let route: DynamicObject = serde_json::from_value(made.route.clone())
            .map_err(|e| DriverError::Internal(format!("encoding the Route: {e}")))?;
        tolerate_existing(
            self.kube
                .call(
                    "create",
                    "routes",
                    self.routes_in(ns).create(&PostParams::default(), &route),
                )
                .await,
        )?;
        if let Some((key, value)) = &made.redirect_annotation {
            self.annotate_service_account(ns, &service_account, key, Some(value))
                .await?;
        }
        Ok(())
    }

    /// Sets (or with `None` removes) one annotation of a ServiceAccount the driver does not own.
    async fn annotate_service_account(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), DriverError> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.kube.client.clone(), namespace);
        let patch = serde_json::json!({"metadata": {"annotations": BTreeMap::from([(key, value)])}});
        self.kube
            .call(
                "patch",
                "serviceaccounts",
                accounts.patch(name, &PatchParams::default(), &Patch::Merge(&patch)),
            )
            .await
            .map(|_| ())
    }
}

/// Seconds since `created` (Unix seconds), by the system clock.
fn age_secs(created: i64) -> i64 {
    unix_now().as_secs() as i64 - created
}

fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn object_name(manifest: &SandboxManifest) -> String {
    manifest.metadata.name.clone().unwrap_or_default()
}

/// A create retried after a partial failure finds its own object again.
fn tolerate_existing<T>(result: Result<T, DriverError>) -> Result<(), DriverError> {
    match result {
        Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// 16 random bytes as 32 hex characters: an AES-256 key length, as oauth-proxy wants.
fn cookie_secret() -> Result<String, DriverError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| DriverError::Internal(format!("no randomness for the cookie secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[async_trait::async_trait]
impl PlatformEnricher for OpenShiftEnricher {
    fn name(&self) -> &'static str {
        "openshift"
    }

    fn start(self: Arc<Self>, events: PlatformEvents, shutdown: watch::Receiver<bool>) {
        if self.mode() != PlatformMode::Kubernetes {
            tokio::spawn(self.discovery_loop(events, shutdown));
        }
    }

    fn platform_config_keys(&self) -> &'static [&'static str] {
        &[EXPOSE_KEY]
    }

    async fn validate(&self, request: &DriverSandbox, manifest: &SandboxManifest) -> Result<(), DriverError> {
        let Some(plan) = self.plan_for(request).await? else {
            return Ok(());
        };
        let namespace = manifest.metadata.namespace.clone().unwrap_or_default();
        if self.grants_scc() {
            // The create binds the SCC in the workspace namespace; only the SCC itself is checked.
            self.check_scc_admits(&namespace, &plan).await
        } else {
            self.check_scc(&namespace, &plan).await
        }
    }

    async fn enrich(&self, request: &DriverSandbox, manifest: &mut SandboxManifest) -> Result<(), DriverError> {
        let Some(plan) = self.plan_for(request).await? else {
            return Ok(());
        };
        let namespace = manifest.metadata.namespace.clone().unwrap_or_default();
        if self.grants_scc() {
            self.check_scc_admits(&namespace, &plan).await?;
            self.grant_scc(&namespace, &plan).await?;
        } else {
            self.check_scc(&namespace, &plan).await?;
        }
        apply_plan(manifest, &plan, &expose_names(&object_name(manifest)))
    }

    async fn after_create(&self, request: &DriverSandbox, created: &CreatedSandbox) -> Result<(), DriverError> {
        self.create_companions(request, created).await
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
