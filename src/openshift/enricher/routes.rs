//! Exposed sandboxes: the Service, Route and cookie Secret written next to the Sandbox, the
//! OAuth redirect on the ServiceAccount, and the Route watch that finds hosts and refusals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use tokio::sync::watch;

use super::{OpenShiftEnricher, tolerate_existing, unix_now};
use crate::config::WorkspaceMode;
use crate::error::DriverError;
use crate::kubernetes::enricher::{CreatedSandbox, PlatformEvents};
use crate::kubernetes::identity::Ownership;
use crate::kubernetes::render::{RenderedSandbox, owned_by_sandbox};
use crate::kubernetes::watch::follow;
use crate::openshift::api::route_resource;
use crate::openshift::companions::companions;
use crate::openshift::expose::exposure_of;
use crate::openshift::pod::sandbox_service_account;
use crate::openshift::routes::{RouteState, new_rejections, rejection_event, route_state};
use crate::proto::DriverSandbox;

impl OpenShiftEnricher {
    pub(super) fn routes_in(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.kube.client.clone(), namespace, &route_resource())
    }

    pub(super) async fn watch_routes(self: Arc<Self>, events: PlatformEvents, shutdown: watch::Receiver<bool>) {
        let api = match self.config.workspace_mode {
            WorkspaceMode::Shared => self.routes_in(&self.config.namespace),
            WorkspaceMode::Managed | WorkspaceMode::Operator => {
                Api::all_with(self.kube.client.clone(), &route_resource())
            }
        };
        let config = watcher::Config::default().labels(&Ownership::new(&self.config.gateway_id).selector());
        // Ids seen in the relist under way; Routes deleted during an outage are dropped at its end.
        let mut relisted = std::collections::HashSet::new();
        follow(watcher(api, config), shutdown, "Route", |event| match event {
            watcher::Event::Init => relisted.clear(),
            watcher::Event::InitApply(route) => {
                if let Some(id) = self.route_changed(&route, &events) {
                    relisted.insert(id);
                }
            }
            watcher::Event::InitDone => self.routes_mut().retain(|id, _| relisted.contains(id)),
            watcher::Event::Apply(route) => {
                self.route_changed(&route, &events);
            }
            watcher::Event::Delete(route) => {
                if let Some(state) = serde_json::to_value(&route).ok().as_ref().and_then(route_state) {
                    self.routes_mut().remove(&state.sandbox_id);
                }
            }
        })
        .await;
    }

    pub(super) fn routes_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, RouteState>> {
        self.routes.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a Route and reports routers that newly refused it; returns its sandbox id.
    pub(super) fn route_changed(&self, route: &DynamicObject, events: &PlatformEvents) -> Option<String> {
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

    pub(super) async fn create_companions(
        &self,
        request: &DriverSandbox,
        rendered: &RenderedSandbox,
        created: &CreatedSandbox,
    ) -> Result<(), DriverError> {
        // `enrich` has checked everything already; only an exposed sandbox has companions.
        let Some(exposure) = exposure_of(request, &self.config.openshift)? else {
            return Ok(());
        };
        let owner = owned_by_sandbox(created.api, &created.name, &created.uid);
        let service_account = sandbox_service_account(&self.config.sandbox_service_account);
        let made = companions(
            &rendered.identity,
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
    pub(super) async fn annotate_service_account(
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

/// 16 random bytes as 32 hex characters: an AES-256 key length, as oauth-proxy wants.
fn cookie_secret() -> Result<String, DriverError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| DriverError::Internal(format!("no randomness for the cookie secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
