//! The persistent workspace's claim around create and delete: a kept claim of the same name
//! refuses the create, and `--workspace-retain` releases the claim before the Sandbox goes.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams};

use super::KubeProvisioner;
use crate::error::DriverError;
use crate::kubernetes::render::{RenderedSandbox, SANDBOX_KIND};
use crate::kubernetes::status::SandboxView;
use crate::kubernetes::workspace_volume::{RETAINED_LABEL, claim_name, kept_claim_blocks, release_patch};

impl KubeProvisioner {
    fn claims_in(&self, namespace: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.kube.client.clone(), namespace)
    }

    /// FAILED_PRECONDITION before anything is written when the sandbox's claim name is taken
    /// by a claim no Sandbox owns.
    pub(super) async fn require_free_claim(&self, rendered: &RenderedSandbox) -> Result<(), DriverError> {
        if rendered.manifest.spec.volume_claim_templates.is_none() {
            return Ok(());
        }
        let identity = &rendered.identity;
        let name = claim_name(&identity.object_name);
        let claims = self.claims_in(&identity.namespace);
        match self.kube.call("get", "persistentvolumeclaims", claims.get(&name)).await {
            Err(DriverError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
            Ok(claim) if kept_claim_blocks(&claim.metadata, SANDBOX_KIND) => {
                let kept = claim
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RETAINED_LABEL))
                    .map_or(String::new(), |id| {
                        format!(" (kept from sandbox {id} by --workspace-retain)")
                    });
                Err(DriverError::FailedPrecondition(format!(
                    "the workspace claim {}/{name} already exists and belongs to no sandbox{kept}: delete it, or give the sandbox another name",
                    identity.namespace
                )))
            }
            Ok(_) => Ok(()),
        }
    }

    /// `--workspace-retain`: releases the Sandbox's claim, so that its deletion keeps it. A
    /// failure stops the delete: nothing is deleted that was meant to be kept.
    pub(super) async fn release_claim(&self, view: &SandboxView) -> Result<(), DriverError> {
        if !self.config.workspace_volume.retain {
            return Ok(());
        }
        let name = claim_name(&view.object_name);
        let claims = self.claims_in(&view.namespace);
        let claim = match self.kube.call("get", "persistentvolumeclaims", claims.get(&name)).await {
            Ok(claim) => claim,
            Err(DriverError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(patch) = release_patch(&claim.metadata, &view.uid, view.id()) else {
            return Ok(());
        };
        self.kube
            .call(
                "patch",
                "persistentvolumeclaims",
                claims.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)),
            )
            .await?;
        tracing::info!(sandbox_id = %view.id(), namespace = %view.namespace, claim = %name, "workspace claim kept");
        Ok(())
    }
}
