//! The sandbox pod's containers: the agent's frame and command and security context, and the pod defaults. Pure.

use k8s_openapi::api::core::v1::{Capabilities, Container, EnvVar, LocalObjectReference, PodSpec, SecurityContext};

use crate::config::DriverConfig;
use crate::kubernetes::supervisor::{agent_capabilities, app_armor_profile, supervisor_args};
use crate::launcher;

pub use crate::kubernetes::sideload::{LAUNCHER_INIT_CONTAINER, SUPERVISOR_INIT_CONTAINER};
pub const AGENT_CONTAINER: &str = "agent";

pub(crate) fn pull_policy(config: &DriverConfig) -> Option<String> {
    config.image_pull_policy.map(|p| p.as_k8s().to_string())
}

/// The agent's command: the launcher keeps exactly the `OPENSHELL_*` variables rendered here
/// and execs the supervisor, which starts the user's command from OPENSHELL_MAIN_PROCESS_SPEC
/// inside its isolation (container `args` would replace that command, so every flag goes
/// into `command`).
pub(crate) fn launched_supervisor(
    config: &DriverConfig,
    delivery: &crate::kubernetes::sideload::Delivery,
    env: &[EnvVar],
) -> Vec<String> {
    let keep: Vec<&str> = env
        .iter()
        .map(|e| e.name.as_str())
        .filter(|n| n.starts_with(launcher::SUPERVISOR_PREFIX))
        .collect();
    let mut command = vec![
        delivery.launcher.clone(),
        launcher::KEEP_FLAG.into(),
        keep.join(","),
        "--".into(),
        delivery.supervisor.clone(),
    ];
    command.extend(supervisor_args(config));
    command
}

/// The agent container's frame.
pub(crate) fn supervised_agent(config: &DriverConfig) -> Container {
    Container {
        name: AGENT_CONTAINER.into(),
        image_pull_policy: pull_policy(config),
        ..Default::default()
    }
}

/// Root with exactly the supervisor's capabilities, never privileged.
pub(crate) fn agent_security_context(isolation: &crate::kubernetes::isolation::Isolation) -> SecurityContext {
    SecurityContext {
        run_as_user: Some(0),
        run_as_non_root: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            add: Some(agent_capabilities(isolation.host_users)),
            ..Default::default()
        }),
        app_armor_profile: app_armor_profile(&isolation.app_armor),
        ..Default::default()
    }
}

/// The ServiceAccount sandbox pods run as: `--sandbox-service-account`, else the namespace's
/// `default`.
pub fn sandbox_service_account(configured: &str) -> String {
    if configured.is_empty() {
        "default".into()
    } else {
        configured.into()
    }
}

pub(crate) fn pod_defaults(config: &DriverConfig) -> PodSpec {
    PodSpec {
        restart_policy: Some("Never".into()),
        automount_service_account_token: Some(false),
        // Named even when it is `default`: a projected token needs it, and without the
        // ServiceAccount admission plugin nothing else fills it in.
        service_account_name: Some(sandbox_service_account(&config.sandbox_service_account)),
        image_pull_secrets: (!config.image_pull_secrets.is_empty()).then(|| {
            config
                .image_pull_secrets
                .iter()
                .map(|n| LocalObjectReference { name: n.clone() })
                .collect()
        }),
        ..Default::default()
    }
}

/// No capabilities and no privilege escalation: for every container but the agent.
pub fn unprivileged() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
