//! Discovery at connect: the Sandbox API, and (once) how this cluster gets the supervisor
//! (`--supervisor-sideload`, decided from the API server's facts and logged with its reason).

use std::sync::Arc;

use super::KubeProvisioner;
use crate::error::DriverError;
use crate::kubernetes::client::SandboxApiState;
use crate::kubernetes::sideload::resolve;

impl KubeProvisioner {
    pub(super) async fn discover(&self) -> Result<SandboxApiState, DriverError> {
        if self.render_config.get().is_none() {
            let facts = self.kube.api_server_facts().await?;
            let resolution = resolve(self.config.supervisor_sideload, &facts);
            if resolution.supported {
                tracing::info!(sideload = resolution.sideload.as_flag(), why = %resolution.why, "supervisor delivery");
            } else {
                tracing::warn!(sideload = resolution.sideload.as_flag(), why = %resolution.why, "supervisor delivery");
            }
            let mut config = (*self.config).clone();
            config.supervisor_sideload = resolution.sideload;
            let _ = self.render_config.set(Arc::new(config));
        }
        self.kube.discover_sandbox_api().await
    }
}
