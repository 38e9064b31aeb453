//! A sandbox request as a JSON/YAML document (`render`, `client create --file`), converted to
//! the gateway's `DriverSandbox`. Field names are the proto's.

use std::collections::HashMap;

use serde::Deserialize;

use crate::kubernetes::request_config::json_to_struct;
use crate::proto::*;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxDoc {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub workspace: String,
    #[serde(default)]
    pub spec: SpecDoc,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecDoc {
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub log_level: String,
    #[serde(default)]
    pub environment: HashMap<String, String>,
    #[serde(default)]
    pub sandbox_token: String,
    /// GPUs requested; absent means none.
    pub gpu: Option<GpuDoc>,
    #[serde(default)]
    pub template: TemplateDoc,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuDoc {
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub agent_socket_path: String,
    #[serde(default)]
    pub labels: HashMap<String, String>,
    #[serde(default)]
    pub environment: HashMap<String, String>,
    #[serde(default)]
    pub resources: ResourcesDoc,
    pub platform_config: Option<serde_json::Value>,
    pub driver_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesDoc {
    #[serde(default)]
    pub cpu_request: String,
    #[serde(default)]
    pub cpu_limit: String,
    #[serde(default)]
    pub memory_request: String,
    #[serde(default)]
    pub memory_limit: String,
}

impl SandboxDoc {
    /// Parses JSON or YAML (JSON is YAML).
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        serde_yaml::from_str(text).map_err(|e| anyhow::anyhow!("sandbox request: {e}"))
    }

    pub fn into_proto(self) -> DriverSandbox {
        let t = self.spec.template;
        DriverSandbox {
            id: if self.id.is_empty() {
                uuid::Uuid::new_v4().to_string()
            } else {
                self.id
            },
            name: self.name,
            namespace: String::new(),
            workspace: self.workspace,
            status: None,
            spec: Some(DriverSandboxSpec {
                log_level: self.spec.log_level,
                environment: self.spec.environment,
                sandbox_token: self.spec.sandbox_token,
                command: if self.spec.command.is_empty() {
                    vec!["/bin/bash".into(), "-l".into()]
                } else {
                    self.spec.command
                },
                tty: self.spec.tty,
                resource_requirements: self.spec.gpu.map(|g| ResourceRequirements {
                    gpu: Some(GpuResourceRequirements { count: g.count }),
                }),
                template: Some(DriverSandboxTemplate {
                    image: t.image,
                    agent_socket_path: t.agent_socket_path,
                    labels: t.labels,
                    environment: t.environment,
                    resources: Some(DriverResourceRequirements {
                        cpu_request: t.resources.cpu_request,
                        cpu_limit: t.resources.cpu_limit,
                        memory_request: t.resources.memory_request,
                        memory_limit: t.resources.memory_limit,
                    }),
                    platform_config: t.platform_config.as_ref().and_then(json_to_struct),
                    driver_config: t.driver_config.as_ref().and_then(json_to_struct),
                }),
            }),
        }
    }
}
