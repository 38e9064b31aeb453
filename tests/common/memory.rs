//! An in-memory [`SandboxProvisioner`] for tier 2: real rendering, the real cache and watch
//! fan-out, and objects kept in a map instead of an API server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::DynamicObject;
use kube::runtime::watcher::Event;
use openshell_driver_openshift::config::DriverConfig;
use openshell_driver_openshift::error::DriverError;
use openshell_driver_openshift::kubernetes::cache::SandboxCache;
use openshell_driver_openshift::kubernetes::identity::LABEL_SANDBOX_ID;
use openshell_driver_openshift::kubernetes::render::{SandboxApiVersion, render_sandbox, requested_gpus};
use openshell_driver_openshift::metrics::NoopMetrics;
use openshell_driver_openshift::proto::DriverSandbox;
use openshell_driver_openshift::provisioner::*;
use serde_json::json;
use tokio::sync::watch;

pub const FAKE_GPUS: u32 = 2;

pub struct MemoryProvisioner {
    config: DriverConfig,
    cache: Arc<SandboxCache>,
    objects: Mutex<HashMap<String, DynamicObject>>,
    shutdown: watch::Receiver<bool>,
    pub readiness: watch::Sender<Readiness>,
    /// Makes Stop slow, to prove in-flight calls finish during shutdown.
    pub stop_delay: Mutex<Duration>,
}

impl MemoryProvisioner {
    pub fn new(shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let cache = SandboxCache::new(Arc::new(NoopMetrics));
        cache.apply(Event::Init);
        cache.apply(Event::InitDone);
        let mut config = DriverConfig::defaults();
        config.default_image = "registry.example/default:1".into();
        Arc::new(Self {
            config,
            cache,
            objects: Mutex::new(HashMap::new()),
            shutdown,
            readiness: watch::channel(Readiness::Ready).0,
            stop_delay: Mutex::new(Duration::ZERO),
        })
    }

    fn check(&self) -> Result<(), DriverError> {
        self.readiness.borrow().check()
    }

    fn set_status(&self, id: &str, status: serde_json::Value) -> Result<(), DriverError> {
        let mut objects = self.objects.lock().expect("lock");
        let obj = objects
            .get_mut(id)
            .ok_or_else(|| DriverError::NotFound(format!("sandbox {id} not found")))?;
        obj.data["status"] = status;
        self.cache.apply(Event::Apply(obj.clone()));
        Ok(())
    }

    fn view(
        &self,
        target: &SandboxRef,
    ) -> Result<Arc<openshell_driver_openshift::kubernetes::status::SandboxView>, DriverError> {
        self.check()?;
        self.cache
            .read(|i| i.get(&target.id))
            .ok_or_else(|| DriverError::NotFound(format!("sandbox {} not found", target.id)))
    }
}

fn condition(kind: &str, status: &str, reason: &str) -> serde_json::Value {
    json!({"type": kind, "status": status, "reason": reason, "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

fn running() -> serde_json::Value {
    json!({"podIPs": ["10.244.0.9"], "nodeName": "node-a", "conditions": [condition("Ready", "True", "DependenciesReady")]})
}

#[async_trait::async_trait]
impl SandboxProvisioner for MemoryProvisioner {
    async fn validate_create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        render_sandbox(sandbox, &self.config, SandboxApiVersion::V1beta1, &[])?;
        if let Some(count) = requested_gpus(&sandbox.spec.clone().unwrap_or_default())?
            && count > FAKE_GPUS
        {
            return Err(DriverError::FailedPrecondition(format!("no node has {count} GPUs")));
        }
        self.check()
    }

    async fn create(&self, sandbox: &DriverSandbox) -> Result<(), DriverError> {
        self.check()?;
        let rendered = render_sandbox(sandbox, &self.config, SandboxApiVersion::V1beta1, &[])?;
        let mut objects = self.objects.lock().expect("lock");
        if objects.contains_key(&sandbox.id) {
            return Ok(());
        }
        if objects
            .values()
            .any(|o| o.metadata.name == rendered.manifest.metadata.name)
        {
            return Err(DriverError::AlreadyExists(format!(
                "a sandbox named {:?} already exists",
                sandbox.name
            )));
        }
        let mut obj: DynamicObject =
            serde_json::from_value(serde_json::to_value(&rendered.manifest).expect("json")).expect("object");
        obj.metadata.uid = Some(format!("uid-{}", sandbox.id));
        obj.data["status"] = running();
        objects.insert(sandbox.id.clone(), obj.clone());
        self.cache.apply(Event::Apply(obj));
        Ok(())
    }

    async fn get(&self, target: &SandboxRef) -> Result<DriverSandbox, DriverError> {
        Ok(self.view(target)?.snapshot.clone())
    }

    async fn list(&self) -> Result<Vec<DriverSandbox>, DriverError> {
        self.check()?;
        Ok(self
            .cache
            .read(|i| i.all().iter().map(|v| v.snapshot.clone()).collect()))
    }

    async fn stop(&self, target: &SandboxRef) -> Result<(), DriverError> {
        self.view(target)?;
        let delay = *self.stop_delay.lock().expect("lock");
        tokio::time::sleep(delay).await;
        self.set_status(
            &target.id,
            json!({"conditions": [condition("Suspended", "True", "PodTerminated"), condition("Ready", "False", "SandboxSuspended")]}),
        )
    }

    async fn start(&self, target: &SandboxRef) -> Result<(), DriverError> {
        self.view(target)?;
        self.set_status(&target.id, running())
    }

    async fn delete(&self, target: &SandboxRef) -> Result<bool, DriverError> {
        self.check()?;
        let removed = self.objects.lock().expect("lock").remove(&target.id);
        Ok(match removed {
            Some(obj) => {
                self.cache.apply(Event::Delete(obj));
                true
            }
            None => false,
        })
    }

    async fn watch(&self) -> Result<WatchStream, DriverError> {
        Ok(self.cache.stream(self.shutdown.clone()))
    }

    async fn resolve_endpoint(&self, target: &SandboxRef) -> Result<SandboxEndpoint, DriverError> {
        let view = self.view(target)?;
        if view.endpoint.pod_ips.is_empty() {
            return Err(DriverError::FailedPrecondition(format!(
                "sandbox {} has no address yet",
                target.id
            )));
        }
        Ok(view.endpoint.clone())
    }

    async fn ensure_workspace(&self, workspace: &str) -> Result<(), DriverError> {
        openshell_driver_openshift::grammar::validate_public_name("workspace", workspace)
    }

    async fn delete_workspace(&self, workspace: &str) -> Result<(), DriverError> {
        openshell_driver_openshift::grammar::validate_public_name("workspace", workspace)
    }

    fn readiness(&self) -> Readiness {
        self.readiness.borrow().clone()
    }

    fn readiness_updates(&self) -> watch::Receiver<Readiness> {
        self.readiness.subscribe()
    }
}

/// True when the object map and the cache agree that `id` exists.
pub fn stored(p: &MemoryProvisioner, id: &str) -> bool {
    let in_map = p.objects.lock().expect("lock").values().any(|o| {
        o.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SANDBOX_ID))
            .map(String::as_str)
            == Some(id)
    });
    in_map && p.cache.read(|i| i.get(id).is_some())
}
