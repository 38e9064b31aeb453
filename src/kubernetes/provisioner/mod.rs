//! [`KubeProvisioner`]: the I/O edge. It renders with the pure functions of this module,
//! writes through [`KubeCalls`], and reads from the watch-fed [`SandboxCache`]. `create`,
//! `workspace` and `watches` hold the longer parts.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use tokio::sync::watch;

use crate::config::{DriverConfig, WorkspaceMode};
use crate::error::DriverError;
use crate::grammar::validate_public_name;
use crate::kubernetes::cache::SandboxCache;
use crate::kubernetes::capacity::check_gpu_capacity;
use crate::kubernetes::client::{CRD_MISSING_MESSAGE, KubeCalls, SandboxApiState, sandbox_resource};
use crate::kubernetes::copies::copied_secrets;
use crate::kubernetes::enricher::{PlatformEnricher, PlatformEvents};
use crate::kubernetes::identity::{LABEL_SANDBOX_ID, Ownership, workspace_namespace};
use crate::kubernetes::nodes::NodeStore;
use crate::kubernetes::prepared::PreparedNamespaces;
use crate::kubernetes::presence::NamedWatch;
use crate::kubernetes::readiness;
use crate::kubernetes::render::{
    RenderedSandbox, SandboxApiVersion, render_sandbox, requested_gpus, sandbox_service_account,
};
use crate::kubernetes::status::{SandboxView, sandbox_view};
use crate::metrics::DriverMetrics;
use crate::proto::{DriverSandbox, ListSandboxesResponse};
use crate::provisioner::{Readiness, SandboxEndpoint, SandboxProvisioner, SandboxRef, WatchStream};

mod allowlist;
mod copies;
mod create;
mod delivery;
mod warm;
mod watches;
mod workspace;
mod workspace_claim;

const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(10);
/// How long a sandbox call waits for a backend that is not ready yet.
const STARTUP_WAIT: Duration = Duration::from_secs(2);
/// How often pod-failure graces are re-evaluated.
const GRACE_TICK: Duration = Duration::from_secs(5);

pub struct KubeProvisioner {
    config: Arc<DriverConfig>,
    /// `config` with `--supervisor-sideload auto` replaced by the cluster's answer (set once the
    /// API server answers; rendering before that only validates).
    render_config: std::sync::OnceLock<Arc<DriverConfig>>,
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
    /// Shared mode: whether the sandbox ServiceAccount exists, so a create need not GET it.
    sandbox_account: NamedWatch<ServiceAccount>,
    /// The client TLS Secret (--client-tls-secret), read before every create and validate.
    client_tls: NamedWatch<Secret>,
    /// Managed mode: each image-pull source Secret, so a create reads it here, not by a GET.
    pull_sources: Vec<(String, NamedWatch<Secret>)>,
    /// Workspace namespaces already prepared from the current sources (managed and operator).
    prepared: PreparedNamespaces,
    /// The warm pool's members, fed by the Sandbox watch (`warm`).
    pool: crate::kubernetes::warm_pool::pool::Pool,
    /// Operator mode: the namespaces workspaces may use.
    allowlist: crate::kubernetes::operator::Allowlist,
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
        let sandbox_account = match config.workspace_mode {
            WorkspaceMode::Shared => NamedWatch::start(
                Api::<ServiceAccount>::namespaced(kube.client.clone(), &config.namespace),
                &sandbox_service_account(&config.sandbox_service_account),
                "sandbox ServiceAccount",
                shutdown.clone(),
            ),
            _ => NamedWatch::unknown(),
        };
        let client_tls = match config.client_tls_secret.as_str() {
            "" => NamedWatch::unknown(),
            name => NamedWatch::start(
                Api::<Secret>::namespaced(kube.client.clone(), &config.namespace),
                name,
                "client TLS Secret",
                shutdown.clone(),
            ),
        };
        let pull_sources = copied_secrets(&config)
            .into_iter()
            .filter(|copied| copied.flag == "--image-pull-secrets")
            .map(|copied| {
                let api = Api::<Secret>::namespaced(kube.client.clone(), &config.namespace);
                let watch = NamedWatch::start(api, &copied.name, "image-pull source Secret", shutdown.clone());
                (copied.name, watch)
            })
            .collect();
        let this = Arc::new(Self {
            config,
            render_config: std::sync::OnceLock::new(),
            kube,
            backend: watch::channel(Readiness::Unavailable("connecting to the Kubernetes API server".into())).0,
            readiness: watch::channel(Readiness::Unavailable("connecting to the Kubernetes API server".into())).0,
            api: watch::channel(None).0,
            cache: SandboxCache::with_unschedulable_timeout(metrics.clone(), unschedulable_timeout),
            nodes,
            enricher,
            metrics,
            shutdown,
            sandbox_account,
            client_tls,
            pull_sources,
            prepared: PreparedNamespaces::default(),
            pool: Default::default(),
            allowlist: Default::default(),
        });
        this.start_allowlist();
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
            let state = match self.discover().await {
                Ok(SandboxApiState::Served(version)) => {
                    tracing::info!(version = version.version(), "Sandbox API found; starting watches");
                    self.api.send_replace(Some(version));
                    self.backend.send_replace(Readiness::Ready);
                    tokio::spawn(Arc::clone(&self).watch_sandboxes(version));
                    tokio::spawn(Arc::clone(&self).watch_events());
                    tokio::spawn(Arc::clone(&self).watch_pods());
                    tokio::spawn(Arc::clone(&self).tick_graces());
                    tokio::spawn(Arc::clone(&self).watch_copy_sources());
                    tokio::spawn(Arc::clone(&self).run_pool(version));
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

    /// The sandbox namespace in shared mode, every namespace in managed and operator mode.
    fn in_scope<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match self.config.workspace_mode {
            WorkspaceMode::Shared => Api::namespaced(self.kube.client.clone(), &self.config.namespace),
            WorkspaceMode::Managed | WorkspaceMode::Operator => Api::all(self.kube.client.clone()),
        }
    }

    fn sandboxes_in_scope(&self, version: SandboxApiVersion) -> Api<DynamicObject> {
        let resource = sandbox_resource(version);
        match self.config.workspace_mode {
            WorkspaceMode::Shared => Api::namespaced_with(self.kube.client.clone(), &self.config.namespace, &resource),
            WorkspaceMode::Managed | WorkspaceMode::Operator => Api::all_with(self.kube.client.clone(), &resource),
        }
    }

    fn sandboxes_in(&self, version: SandboxApiVersion, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.kube.client.clone(), namespace, &sandbox_resource(version))
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
        let selector = format!("{},{LABEL_SANDBOX_ID}={id}", self.ownership().selector());
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
        let config = self.render_config.get().unwrap_or(&self.config);
        render_sandbox(request, config, version, self.enricher.platform_config_keys())
    }

    fn ownership(&self) -> Ownership<'_> {
        Ownership::new(&self.config.gateway_id)
    }
}

#[async_trait::async_trait]
impl SandboxProvisioner for KubeProvisioner {
    async fn validate_create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        // Input checks do not need the cluster; the version only changes how a stop is written.
        let version = (*self.api.borrow()).unwrap_or(SandboxApiVersion::V1beta1);
        let rendered = self.render(sandbox, version)?;
        self.require_allowed(&rendered.identity.namespace)?;
        self.client_tls_source().await?;
        self.enricher.validate(sandbox, &rendered).await?;
        if let Some(count) = requested_gpus(&sandbox.spec.clone().unwrap_or_default())? {
            self.ready_api().await?;
            let nodes = self.nodes.nodes(self.config.kube_api_timeout).await?;
            check_gpu_capacity(nodes.iter().map(AsRef::as_ref), count)?;
        }
        Ok(())
    }

    async fn create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        self.create_sandbox(sandbox).await
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

    async fn list_response(&self) -> Result<ListSandboxesResponse, DriverError> {
        self.synced().await?;
        // Each view's bytes, encoded once after it changed: no snapshot is cloned or encoded again.
        let views = self.cache.read(|i| i.all());
        Ok(ListSandboxesResponse {
            sandboxes: Vec::new(),
            encoded: views.iter().map(|v| v.encoded()).collect(),
        })
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
        crate::kubernetes::expiry::refuse_start(&view.controller_conditions, &target.id)?;
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
        self.release_claim(&view).await?;
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
            // The platform team's namespace: used, never made.
            WorkspaceMode::Operator => self.require_allowed(workspace),
            WorkspaceMode::Managed => {
                self.ready_api().await?;
                self.ensure_namespace(workspace).await?;
                let namespace = workspace_namespace(&self.config, workspace);
                self.ensure_service_account(&namespace).await?;
                let copied = self.copy_secrets_into(&namespace).await?;
                self.prepared.record(&namespace, copied, std::time::Instant::now());
                Ok(())
            }
        }
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), DriverError> {
        validate_public_name("workspace", workspace)?;
        // Operator mode: the namespace is the platform team's; the driver never touches it.
        if self.config.workspace_mode != WorkspaceMode::Managed {
            return Ok(());
        }
        self.ready_api().await?;
        let name = workspace_namespace(&self.config, workspace);
        self.prepared.forget(&name);
        let namespaces: Api<Namespace> = Api::all(self.kube.client.clone());
        let existing = match self.kube.call("get", "namespaces", namespaces.get(&name)).await {
            Ok(ns) => ns,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if !self.ownership().owns(existing.labels()) {
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
