//! [`KubeProvisioner`]: the I/O edge. It renders with the pure functions of this module,
//! writes through [`KubeCalls`], and reads from the watch-fed [`SandboxCache`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Namespace, Pod, Secret, ServiceAccount};
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::enricher::{CreatedSandbox, PlatformEnricher, PlatformEvents};
use crate::error::DriverError;
use crate::kubernetes::cache::SandboxCache;
use crate::kubernetes::capacity::check_gpu_capacity;
use crate::kubernetes::client::{CRD_MISSING_MESSAGE, KubeCalls, SandboxApiState, sandbox_resource};
use crate::kubernetes::event_watch::event_watch_configs;
use crate::kubernetes::identity::{
    LABEL_GATEWAY_ID, LABEL_MANAGED_BY, LABEL_SANDBOX_ID, LABEL_WORKSPACE, MANAGED_BY, ownership_selector,
    workspace_namespace,
};
use crate::kubernetes::nodes::NodeStore;
use crate::kubernetes::readiness;
use crate::kubernetes::render::{
    RenderedSandbox, SandboxApiVersion, gpu_count, owned_by_sandbox, render_sandbox, sandbox_service_account,
};
use crate::kubernetes::status::{SandboxView, sandbox_view};
use crate::kubernetes::supervisor::{missing_tls_keys, require_token_source};
use crate::kubernetes::validation::validate_public_name;
use crate::kubernetes::watch_backoff::watch_backoff;
use crate::metrics::DriverMetrics;
use crate::proto::DriverSandbox;
use crate::provisioner::{Readiness, SandboxEndpoint, SandboxProvisioner, SandboxRef, WatchStream};

const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(10);
/// How long a sandbox call waits for a backend that is not ready yet.
const STARTUP_WAIT: Duration = Duration::from_secs(2);
/// How often pod-failure graces are re-evaluated.
const GRACE_TICK: Duration = Duration::from_secs(5);

pub struct KubeProvisioner {
    config: Arc<DriverConfig>,
    kube: KubeCalls,
    backend: watch::Sender<Readiness>,
    /// [`readiness::combined`] of `backend` and the cache, pushed by [`readiness::publish`].
    readiness: watch::Sender<Readiness>,
    api: watch::Sender<Option<SandboxApiVersion>>,
    cache: Arc<SandboxCache>,
    nodes: NodeStore,
    enricher: Arc<dyn PlatformEnricher>,
    metrics: Arc<dyn DriverMetrics>,
    shutdown: watch::Receiver<bool>,
}

impl KubeProvisioner {
    /// Starts the provisioner. It does not wait for the API server: discovery and the watches
    /// run in the background, and sandbox calls answer UNAVAILABLE (or FAILED_PRECONDITION when
    /// the CRD is missing) until they are in place.
    pub fn start(
        config: Arc<DriverConfig>,
        client: kube::Client,
        nodes: NodeStore,
        enricher: Arc<dyn PlatformEnricher>,
        metrics: Arc<dyn DriverMetrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let kube = KubeCalls {
            client,
            timeout: config.kube_api_timeout,
            metrics: metrics.clone(),
        };
        let unschedulable_timeout = config.unschedulable_timeout;
        let this = Arc::new(Self {
            config,
            kube,
            backend: watch::channel(Readiness::Unavailable("connecting to the Kubernetes API server".into())).0,
            readiness: watch::channel(Readiness::Unavailable("connecting to the Kubernetes API server".into())).0,
            api: watch::channel(None).0,
            cache: SandboxCache::with_unschedulable_timeout(metrics.clone(), unschedulable_timeout),
            nodes,
            enricher,
            metrics,
            shutdown,
        });
        Arc::clone(&this.enricher).start(PlatformEvents::new(Arc::clone(&this.cache)), this.shutdown.clone());
        tokio::spawn(readiness::publish(
            this.backend.subscribe(),
            Arc::clone(&this.cache),
            this.readiness.clone(),
            this.shutdown.clone(),
        ));
        tokio::spawn(Arc::clone(&this).connect());
        this
    }

    /// Retries discovery until the Sandbox API is served, then starts the watches.
    async fn connect(self: Arc<Self>) {
        let mut backoff = Duration::from_millis(250);
        let mut shutdown = self.shutdown.clone();
        loop {
            let state = match self.kube.discover_sandbox_api().await {
                Ok(SandboxApiState::Served(version)) => {
                    tracing::info!(version = version.version(), "Sandbox API found; starting watches");
                    self.api.send_replace(Some(version));
                    self.backend.send_replace(Readiness::Ready);
                    tokio::spawn(Arc::clone(&self).watch_sandboxes(version));
                    tokio::spawn(Arc::clone(&self).watch_events());
                    tokio::spawn(Arc::clone(&self).watch_pods());
                    tokio::spawn(Arc::clone(&self).tick_graces());
                    return;
                }
                Ok(SandboxApiState::Missing) => Readiness::Misconfigured(CRD_MISSING_MESSAGE.into()),
                Err(e) => Readiness::Unavailable(format!("Kubernetes API server not reachable yet: {e}")),
            };
            if self.backend.borrow().clone() != state {
                tracing::warn!(state = ?state, "Kubernetes backend not ready");
            }
            self.backend.send_replace(state);
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => return,
            }
            backoff = (backoff * 2).min(MAX_CONNECT_BACKOFF);
        }
    }

    /// The sandbox namespace in shared mode, every namespace in managed mode.
    fn in_scope<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self.config.workspace_mode {
            WorkspaceMode::Shared => Api::namespaced(self.kube.client.clone(), &self.config.namespace),
            WorkspaceMode::Managed => Api::all(self.kube.client.clone()),
        }
    }

    fn sandboxes_in_scope(&self, version: SandboxApiVersion) -> Api<DynamicObject> {
        let resource = sandbox_resource(version);
        match self.config.workspace_mode {
            WorkspaceMode::Shared => Api::namespaced_with(self.kube.client.clone(), &self.config.namespace, &resource),
            WorkspaceMode::Managed => Api::all_with(self.kube.client.clone(), &resource),
        }
    }

    fn sandboxes_in(&self, version: SandboxApiVersion, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.kube.client.clone(), namespace, &sandbox_resource(version))
    }

    /// The one Sandbox watch; relists (410 Gone, restarts) and errors never end it.
    async fn watch_sandboxes(self: Arc<Self>, version: SandboxApiVersion) {
        let config = watcher::Config::default().labels(&ownership_selector(&self.config.gateway_id));
        let stream = watcher(self.sandboxes_in_scope(version), config);
        follow(stream, self.shutdown.clone(), "Sandbox", |event| {
            self.cache.apply(event)
        })
        .await;
    }

    /// The Pods of our Sandboxes (same ownership labels): why a pod cannot start
    /// (docs/pod-failures.md).
    async fn watch_pods(self: Arc<Self>) {
        let config = watcher::Config::default().labels(&ownership_selector(&self.config.gateway_id));
        let stream = watcher(self.in_scope::<Pod>(), config);
        follow(stream, self.shutdown.clone(), "Pod", |event| {
            self.cache.apply_pod(event)
        })
        .await;
    }

    /// Ends pod-failure graces on time, without waiting for a Kubernetes event.
    async fn tick_graces(self: Arc<Self>) {
        let mut interval = tokio::time::interval(GRACE_TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = interval.tick() => self.cache.tick(),
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Kubernetes Events of our Sandboxes and Pods become platform events. Events already
    /// there at start (the initial list) are history, not progress, and are skipped.
    async fn watch_events(self: Arc<Self>) {
        let watches = event_watch_configs()
            .into_iter()
            .map(|config| watcher(self.in_scope::<KubeEvent>(), config).boxed());
        let stream = futures::stream::select_all(watches);
        follow(stream, self.shutdown.clone(), "Event", |event| {
            if let watcher::Event::Apply(event) = event {
                self.cache.publish_platform_event(&event);
            }
        })
        .await;
    }

    /// The served Sandbox version, or why sandbox calls cannot be served now. A call made
    /// while the driver is still connecting waits briefly instead of failing at once.
    async fn ready_api(&self) -> Result<SandboxApiVersion, DriverError> {
        let mut backend = self.backend.subscribe();
        let _ = tokio::time::timeout(STARTUP_WAIT, backend.wait_for(|r| *r == Readiness::Ready)).await;
        self.backend.borrow().check()?;
        (*self.api.borrow()).ok_or_else(|| DriverError::Unavailable("Sandbox API not discovered yet".into()))
    }

    /// Waits (bounded) for the cache's first full list.
    async fn synced(&self) -> Result<SandboxApiVersion, DriverError> {
        let version = self.ready_api().await?;
        if self
            .cache
            .wait_until(self.config.kube_api_timeout, |i| i.synced())
            .await
        {
            Ok(version)
        } else {
            Err(DriverError::Unavailable(
                "the sandbox cache has not synced with the API server yet".into(),
            ))
        }
    }

    async fn cached(&self, target: &SandboxRef) -> Result<Arc<SandboxView>, DriverError> {
        self.synced().await?;
        self.cache
            .read(|i| i.get(&target.id))
            .ok_or_else(|| DriverError::NotFound(format!("sandbox {} not found", target.id)))
    }

    /// Asks the API server directly, for the rare call that races the watch (delete right
    /// after create).
    async fn live_lookup(&self, version: SandboxApiVersion, id: &str) -> Result<Option<SandboxView>, DriverError> {
        let selector = format!(
            "{},{LABEL_SANDBOX_ID}={id}",
            ownership_selector(&self.config.gateway_id)
        );
        let list = self
            .kube
            .call(
                "list",
                "sandboxes",
                self.sandboxes_in_scope(version)
                    .list(&ListParams::default().labels(&selector)),
            )
            .await?;
        Ok(list.items.iter().find_map(sandbox_view))
    }

    fn render(&self, request: &DriverSandbox, version: SandboxApiVersion) -> Result<RenderedSandbox, DriverError> {
        render_sandbox(request, &self.config, version, self.enricher.platform_config_keys())
    }

    async fn ensure_namespace(&self, workspace: &str) -> Result<(), DriverError> {
        let name = workspace_namespace(&self.config, workspace);
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let ns = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_GATEWAY_ID.to_string(), self.config.gateway_id.clone()),
                    (LABEL_WORKSPACE.to_string(), workspace.to_string()),
                ])),
                ..Default::default()
            },
            ..Default::default()
        };
        match self
            .kube
            .call("create", "namespaces", namespaces.create(&PostParams::default(), &ns))
            .await
        {
            Ok(_) => Ok(()),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self.kube.call("get", "namespaces", namespaces.get(&name)).await?;
                if self.is_ours(existing.metadata.labels.as_ref()) {
                    Ok(())
                } else {
                    Err(DriverError::FailedPrecondition(format!(
                        "namespace {name} exists but is not managed by this driver (labels {LABEL_MANAGED_BY}={MANAGED_BY}, {LABEL_GATEWAY_ID}={})",
                        self.config.gateway_id
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Managed mode: the sandbox pods' ServiceAccount in a workspace namespace, labelled as ours
    /// and without an automounted token (the supervisor gets a projected one). One that exists
    /// already (ours, or the operator's) is used as it is.
    async fn ensure_service_account(&self, namespace: &str) -> Result<(), DriverError> {
        let name = sandbox_service_account(&self.config.sandbox_service_account);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.kube.client.clone(), namespace);
        let account = ServiceAccount {
            metadata: kube::api::ObjectMeta {
                name: Some(name),
                namespace: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_GATEWAY_ID.to_string(), self.config.gateway_id.clone()),
                ])),
                ..Default::default()
            },
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        match self
            .kube
            .call(
                "create",
                "serviceaccounts",
                accounts.create(&PostParams::default(), &account),
            )
            .await
        {
            Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Shared mode: the sandbox pods' ServiceAccount must exist, or the pod is never made.
    async fn require_service_account(&self) -> Result<(), DriverError> {
        let name = sandbox_service_account(&self.config.sandbox_service_account);
        let accounts: Api<ServiceAccount> = Api::namespaced(self.kube.client.clone(), &self.config.namespace);
        match self.kube.call("get", "serviceaccounts", accounts.get(&name)).await {
            Ok(_) => Ok(()),
            Err(DriverError::NotFound(_)) => Err(DriverError::FailedPrecondition(format!(
                "the sandbox ServiceAccount {name} (--sandbox-service-account) does not exist in namespace {}",
                self.config.namespace
            ))),
            Err(e) => Err(e),
        }
    }

    fn is_ours(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        labels.is_some_and(|l| {
            l.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY)
                && l.get(LABEL_GATEWAY_ID) == Some(&self.config.gateway_id)
        })
    }

    /// Creates the token Secret owned by the Sandbox. A Secret left by an earlier attempt of
    /// the same create (same id, so same name) is fine.
    async fn create_token_secret(
        &self,
        rendered: &RenderedSandbox,
        created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        let Some(mut secret) = rendered.token_secret.clone() else {
            return Ok(());
        };
        secret.metadata.owner_references = Some(vec![owned_by_sandbox(created.api, &created.name, &created.uid)]);
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &created.namespace);
        match self
            .kube
            .call("create", "secrets", secrets.create(&PostParams::default(), &secret))
            .await
        {
            Ok(_) | Err(DriverError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The client TLS Secret in the driver's namespace, checked for its three keys, so a
    /// create never leaves a pod the kubelet cannot start. `None` without --client-tls-secret.
    async fn client_tls_source(&self) -> Result<Option<Secret>, DriverError> {
        let name = &self.config.client_tls_secret;
        if name.is_empty() {
            return Ok(None);
        }
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), &self.config.namespace);
        let secret = match self.kube.call("get", "secrets", secrets.get(name)).await {
            Ok(s) => s,
            Err(DriverError::NotFound(_)) => {
                return Err(DriverError::FailedPrecondition(format!(
                    "the client TLS Secret {name} (--client-tls-secret) does not exist in namespace {}",
                    self.config.namespace
                )));
            }
            Err(e) => return Err(e),
        };
        check_client_tls(&secret, &self.config.namespace)?;
        Ok(Some(secret))
    }

    /// Managed mode: the workspace namespace gets its own copy, labelled as ours and kept equal
    /// to the source.
    async fn copy_client_tls(&self, source: &Secret, namespace: &str) -> Result<(), DriverError> {
        let name = self.config.client_tls_secret.clone();
        let secrets: Api<Secret> = Api::namespaced(self.kube.client.clone(), namespace);
        let mut copy = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                labels: Some(BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
                    (LABEL_GATEWAY_ID.to_string(), self.config.gateway_id.clone()),
                ])),
                ..Default::default()
            },
            type_: source.type_.clone(),
            data: source.data.clone(),
            ..Default::default()
        };
        match self
            .kube
            .call("create", "secrets", secrets.create(&PostParams::default(), &copy))
            .await
        {
            Ok(_) => Ok(()),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self.kube.call("get", "secrets", secrets.get(&name)).await?;
                if existing.data == copy.data && existing.type_ == copy.type_ {
                    return Ok(());
                }
                if !self.is_ours(existing.metadata.labels.as_ref()) {
                    return Err(DriverError::FailedPrecondition(format!(
                        "Secret {name} in namespace {namespace} is not the driver's copy of --client-tls-secret; remove it or rename the flag's Secret"
                    )));
                }
                copy.metadata.resource_version = existing.metadata.resource_version;
                self.kube
                    .call(
                        "update",
                        "secrets",
                        secrets.replace(&name, &PostParams::default(), &copy),
                    )
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a Sandbox this call made, after a later step failed (its Secret goes with it).
    async fn undo_create(&self, created: &CreatedSandbox) {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(created.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        if let Err(e) = self
            .kube
            .call(
                "delete",
                "sandboxes",
                self.sandboxes_in(created.api, &created.namespace)
                    .delete(&created.name, &params),
            )
            .await
        {
            tracing::error!(namespace = %created.namespace, name = %created.name, error = %e, "could not remove a half-created sandbox");
        }
    }
}

/// Feeds a watch to `apply` until shutdown. Errors back off and resume, relists included: a
/// watch of the driver's never ends on its own.
pub(crate) async fn follow<K>(
    stream: impl futures::Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    mut shutdown: watch::Receiver<bool>,
    what: &str,
    mut apply: impl FnMut(watcher::Event<K>),
) {
    let mut stream = std::pin::pin!(stream.backoff(watch_backoff()));
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = shutdown.changed() => return,
        };
        match next {
            Some(Ok(event)) => apply(event),
            Some(Err(e)) => tracing::warn!(error = %e, "{what} watch failed; retrying with backoff"),
            None => return,
        }
    }
}

/// A client TLS Secret the supervisor can use: the three files it reads, none empty.
fn check_client_tls(secret: &Secret, namespace: &str) -> Result<(), DriverError> {
    let missing = missing_tls_keys(secret);
    if missing.is_empty() {
        return Ok(());
    }
    Err(DriverError::FailedPrecondition(format!(
        "the client TLS Secret {} in namespace {namespace} lacks {} (it needs ca.crt, tls.crt and tls.key, as a kubernetes.io/tls Secret with the CA added)",
        secret.metadata.name.clone().unwrap_or_default(),
        missing.join(", ")
    )))
}

/// A 404 on create means the namespace (or the Sandbox API) is missing: for the gateway that is a
/// precondition of the create, not an absent sandbox.
fn create_failure(err: DriverError, namespace: &str) -> DriverError {
    match err {
        DriverError::NotFound(msg) => DriverError::FailedPrecondition(format!(
            "cannot create the Sandbox in namespace {namespace}: {msg} (does the namespace exist, and is the Sandbox CRD installed?)"
        )),
        other => other,
    }
}

#[async_trait::async_trait]
impl SandboxProvisioner for KubeProvisioner {
    async fn validate_create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        // Input checks do not need the cluster; the version only changes how a stop is written.
        let version = (*self.api.borrow()).unwrap_or(SandboxApiVersion::V1beta1);
        let rendered = self.render(sandbox, version)?;
        self.client_tls_source().await?;
        self.enricher.validate(sandbox, &rendered.manifest).await?;
        let gpu = sandbox
            .spec
            .as_ref()
            .and_then(|s| s.resource_requirements.as_ref())
            .and_then(|r| r.gpu.as_ref());
        if let Some(gpu) = gpu {
            let count = gpu_count(gpu)?;
            self.ready_api().await?;
            let nodes = self.nodes.nodes(self.config.kube_api_timeout).await?;
            check_gpu_capacity(&nodes, count)?;
        }
        Ok(())
    }

    async fn create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        let version = self.ready_api().await?;
        let mut rendered = self.render(sandbox, version)?;
        require_token_source(&sandbox.spec.clone().unwrap_or_default(), &self.config)?;
        let identity = rendered.identity.clone();
        let tls = self.client_tls_source().await?;
        if self.config.workspace_mode == WorkspaceMode::Shared {
            self.require_service_account().await?;
        }
        // The namespace first: a platform enricher may read it (OpenShift: its SCC annotations).
        if self.config.workspace_mode == WorkspaceMode::Managed {
            self.ensure_namespace(&identity.workspace).await?;
            self.ensure_service_account(&identity.namespace).await?;
            if let Some(source) = &tls {
                self.copy_client_tls(source, &identity.namespace).await?;
            }
        }
        self.enricher.enrich(sandbox, &mut rendered.manifest).await?;
        let api = self.sandboxes_in(version, &identity.namespace);
        let object: DynamicObject = serde_json::to_value(&rendered.manifest)
            .and_then(serde_json::from_value)
            .map_err(|e| DriverError::Internal(format!("encoding the Sandbox: {e}")))?;
        let (stored, made_here) = match self
            .kube
            .call("create", "sandboxes", api.create(&PostParams::default(), &object))
            .await
        {
            Ok(stored) => (stored, true),
            Err(DriverError::AlreadyExists(_)) => {
                let existing = self
                    .kube
                    .call("get", "sandboxes", api.get(&identity.object_name))
                    .await?;
                let owner = existing
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_SANDBOX_ID))
                    .cloned()
                    .unwrap_or_default();
                if owner != identity.id {
                    return Err(DriverError::AlreadyExists(format!(
                        "a sandbox named {:?} already exists in workspace {:?}",
                        identity.name, identity.workspace
                    )));
                }
                // A retry of the same create: finish whatever the first attempt left undone.
                (existing, false)
            }
            Err(e) => {
                let e = create_failure(e, &identity.namespace);
                self.metrics.sandbox_failed(e.metric_label());
                return Err(e);
            }
        };
        let created = CreatedSandbox {
            api: version,
            namespace: identity.namespace.clone(),
            name: identity.object_name.clone(),
            uid: stored.metadata.uid.clone().unwrap_or_default(),
        };
        let companions = async {
            self.create_token_secret(&rendered, &created).await?;
            self.enricher.after_create(sandbox, &created).await
        };
        if let Err(e) = companions.await {
            if made_here {
                self.undo_create(&created).await;
            }
            self.metrics.sandbox_failed(e.metric_label());
            return Err(e);
        }
        if made_here {
            self.metrics.sandbox_created();
            tracing::info!(sandbox_id = %identity.id, namespace = %identity.namespace, name = %identity.object_name, "sandbox created");
        }
        Ok(())
    }

    async fn get(&self, target: &SandboxRef) -> Result<DriverSandbox, DriverError> {
        Ok(self.cached(target).await?.snapshot.clone())
    }

    async fn list(&self) -> Result<Vec<DriverSandbox>, DriverError> {
        self.synced().await?;
        Ok(self
            .cache
            .read(|i| i.all().into_iter().map(|v| v.snapshot.clone()).collect()))
    }

    async fn stop(&self, target: &SandboxRef) -> Result<(), DriverError> {
        let version = self.ready_api().await?;
        let view = self.cached(target).await?;
        if !view.suspended {
            let patch = Patch::Merge(version.running_patch(false));
            self.kube
                .call(
                    "patch",
                    "sandboxes",
                    self.sandboxes_in(version, &view.namespace).patch(
                        &view.object_name,
                        &PatchParams::default(),
                        &patch,
                    ),
                )
                .await?;
        }
        let id = target.id.clone();
        // Gone counts as stopped: nothing runs any more.
        let stopped = self
            .cache
            .wait_until(self.config.stop_timeout, |i| i.get(&id).is_none_or(|v| v.suspended))
            .await;
        if stopped {
            Ok(())
        } else {
            Err(DriverError::DeadlineExceeded(format!(
                "sandbox {id} did not report Suspended=True within {}s",
                self.config.stop_timeout.as_secs()
            )))
        }
    }

    async fn start(&self, target: &SandboxRef) -> Result<(), DriverError> {
        let version = self.ready_api().await?;
        let view = self.cached(target).await?;
        let patch = Patch::Merge(version.running_patch(true));
        self.kube
            .call(
                "patch",
                "sandboxes",
                self.sandboxes_in(version, &view.namespace)
                    .patch(&view.object_name, &PatchParams::default(), &patch),
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, target: &SandboxRef) -> Result<bool, DriverError> {
        let version = self.synced().await?;
        let view = match self.cache.read(|i| i.get(&target.id)) {
            Some(v) => (*v).clone(),
            None => match self.live_lookup(version, &target.id).await? {
                Some(v) => v,
                None => return Ok(false),
            },
        };
        // A uid precondition, not a resourceVersion one: a concurrent status write must not
        // make the delete fail, but a recreated object of the same name must not be deleted.
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(view.uid.clone()),
                resource_version: None,
            }),
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let deleted = match self
            .kube
            .call(
                "delete",
                "sandboxes",
                self.sandboxes_in(version, &view.namespace)
                    .delete(&view.object_name, &params),
            )
            .await
        {
            Ok(_) => true,
            // 404: already gone; 409: the uid precondition failed, so ours is gone too.
            Err(DriverError::NotFound(_)) | Err(DriverError::AlreadyExists(_)) => false,
            Err(e) => return Err(e),
        };
        if deleted {
            self.enricher.on_delete(&view).await?;
            self.metrics.sandbox_deleted();
            tracing::info!(sandbox_id = %target.id, "sandbox deleted");
        }
        Ok(deleted)
    }

    async fn watch(&self) -> Result<WatchStream, DriverError> {
        Ok(self.cache.stream(self.shutdown.clone()))
    }

    async fn resolve_endpoint(&self, target: &SandboxRef) -> Result<SandboxEndpoint, DriverError> {
        let view = self.cached(target).await?;
        if view.endpoint.pod_ips.is_empty() {
            return Err(DriverError::FailedPrecondition(format!(
                "sandbox {} has no address yet",
                target.id
            )));
        }
        let mut endpoint = view.endpoint.clone();
        self.enricher.decorate_endpoint(&view, &mut endpoint);
        Ok(endpoint)
    }

    async fn ensure_workspace(&self, workspace: &str) -> Result<(), DriverError> {
        validate_public_name("workspace", workspace)?;
        match self.config.workspace_mode {
            WorkspaceMode::Shared => Ok(()),
            WorkspaceMode::Managed => {
                self.ready_api().await?;
                self.ensure_namespace(workspace).await?;
                self.ensure_service_account(&workspace_namespace(&self.config, workspace))
                    .await
            }
        }
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), DriverError> {
        validate_public_name("workspace", workspace)?;
        if self.config.workspace_mode == WorkspaceMode::Shared {
            return Ok(());
        }
        self.ready_api().await?;
        let name = workspace_namespace(&self.config, workspace);
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let existing = match self.kube.call("get", "namespaces", namespaces.get(&name)).await {
            Ok(ns) => ns,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !self.is_ours(existing.metadata.labels.as_ref()) {
            return Err(DriverError::FailedPrecondition(format!(
                "namespace {name} is not managed by this driver; it was left in place"
            )));
        }
        match self
            .kube
            .call(
                "delete",
                "namespaces",
                namespaces.delete(&name, &DeleteParams::background()),
            )
            .await
        {
            Ok(_) | Err(DriverError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn readiness(&self) -> Readiness {
        readiness::combined(&self.backend.borrow(), self.cache.read(|i| i.synced()))
    }

    fn readiness_updates(&self) -> watch::Receiver<Readiness> {
        self.readiness.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_secret(keys: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("client-tls".into()),
                ..Default::default()
            },
            data: Some(
                keys.iter()
                    .map(|(k, v)| (k.to_string(), k8s_openapi::ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn a_client_tls_secret_needs_its_three_keys() {
        let full = [("ca.crt", "CA"), ("tls.crt", "CERT"), ("tls.key", "KEY")];
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);
        let cases: [Case; 4] = [
            ("complete", &full, None),
            ("no CA", &full[1..], Some("lacks ca.crt")),
            (
                "empty key",
                &[("ca.crt", "CA"), ("tls.crt", "CERT"), ("tls.key", "")],
                Some("lacks tls.key"),
            ),
            ("nothing", &[], Some("lacks ca.crt, tls.crt, tls.key")),
        ];
        for (what, keys, want) in cases {
            let got = check_client_tls(&tls_secret(keys), "ns");
            match want {
                None => assert!(got.is_ok(), "{what}: {got:?}"),
                Some(text) => {
                    let e = got.expect_err(what);
                    assert_eq!(e.code(), tonic::Code::FailedPrecondition, "{what}");
                    assert!(e.to_string().contains(text), "{what}: {e}");
                    assert!(e.to_string().contains("client-tls"), "{what} names the Secret: {e}");
                }
            }
        }
    }

    #[test]
    fn a_404_on_create_is_a_failed_precondition_naming_the_namespace() {
        let e = create_failure(DriverError::NotFound("namespaces \"x\" not found".into()), "x");
        assert_eq!(e.code(), tonic::Code::FailedPrecondition);
        assert!(e.to_string().contains("namespace x"), "{e}");
        let other = create_failure(DriverError::PermissionDenied("no".into()), "x");
        assert_eq!(other.code(), tonic::Code::PermissionDenied);
    }
}
