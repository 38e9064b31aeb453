//! The SCC preflight and grant: the SCC exists and would admit the pod, and the sandbox
//! ServiceAccount may use it (a SubjectAccessReview); in managed workspaces the driver grants it.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DynamicObject, PostParams};

use super::{GRANT_PROPAGATION_WAIT, OpenShiftEnricher, tolerate_existing};
use crate::config::WorkspaceMode;
use crate::error::DriverError;
use crate::kubernetes::identity::Ownership;
use crate::openshift::api::{SCC_GROUP, SCC_PLURAL, scc_resource};
use crate::openshift::decision::Applies;
use crate::openshift::pod::OpenShiftPlan;
use crate::openshift::scc::{scc_grant, scc_problems};

impl OpenShiftEnricher {
    /// The SCC exists, would admit the pod, and the sandbox ServiceAccount may use it.
    pub(super) async fn check_scc(
        &self,
        namespace: &str,
        plan: &OpenShiftPlan,
        pod_volumes: &BTreeSet<String>,
    ) -> Result<(), DriverError> {
        self.check_scc_admits(namespace, plan, pod_volumes).await?;
        self.check_scc_use(namespace, plan).await
    }

    fn grant_command(namespace: &str, plan: &OpenShiftPlan) -> String {
        let (scc, sa) = (&plan.scc, &plan.service_account);
        format!("oc adm policy add-scc-to-user {scc} -z {sa} -n {namespace}")
    }

    /// The SCC exists and would admit the sandbox pod.
    pub(super) async fn check_scc_admits(
        &self,
        namespace: &str,
        plan: &OpenShiftPlan,
        pod_volumes: &BTreeSet<String>,
    ) -> Result<(), DriverError> {
        let scc_name = &plan.scc;
        let grant = Self::grant_command(namespace, plan);
        let sccs: Api<DynamicObject> = Api::all_with(self.kube.client.clone(), &scc_resource());
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
        let caps = (self.config.topology).pod_capabilities(&crate::kubernetes::supervisor::AGENT_CAPABILITIES);
        let problems = scc_problems(&stored, plan, &caps, pod_volumes);
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
                    group: Some(SCC_GROUP.into()),
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
    /// would admit its pod (whose volume types are `pod_volumes`), and the sandbox
    /// ServiceAccount may use it.
    pub async fn scc_preflight(&self, namespace: &str, pod_volumes: &BTreeSet<String>) -> Result<(), DriverError> {
        let facts = self.facts().await.unwrap_or_default();
        let security = self.namespace_security(namespace).await?;
        let plan = Applies { exposure: None }.plan(&self.config, &facts, &security);
        self.check_scc(namespace, &plan, pod_volumes).await
    }

    /// Managed workspaces are the driver's own namespaces, so it grants the SCC there itself.
    pub(super) fn grants_scc(&self) -> bool {
        self.config.workspace_mode == WorkspaceMode::Managed && !self.config.openshift.scc_grant_cluster_role.is_empty()
    }

    /// Binds the SCC's ClusterRole to the sandbox ServiceAccount, then waits (briefly) until the
    /// authorizer sees the binding, which it learns from a watch.
    pub(super) async fn grant_scc(&self, namespace: &str, plan: &OpenShiftPlan) -> Result<(), DriverError> {
        // Granted already (by an earlier create, or an admin): nothing to write.
        match self.check_scc_use(namespace, plan).await {
            Err(DriverError::FailedPrecondition(_)) => {}
            other => return other,
        }
        let labels = Ownership::new(&self.config.gateway_id).labels();
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
}
