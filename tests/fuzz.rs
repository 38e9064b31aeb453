//! `make fuzz`: request validation under generated input, for a fixed budget of runs
//! (`FUZZ_RUNS`, default 20000 per target), with bolero's generator. No input may panic: every
//! request is either rendered or refused with an error, and what is rendered keeps the limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bolero::{TypeGenerator, check};
use openshell_driver_openshift::config::{DriverConfig, PlatformMode};
use openshell_driver_openshift::kubernetes::limits::{MAX_ANNOTATIONS_BYTES, MAX_OBJECT_BYTES};
use openshell_driver_openshift::kubernetes::render::{SandboxApiVersion, render_sandbox};
use openshell_driver_openshift::openshift::detect::PlatformFacts;
use openshell_driver_openshift::openshift::enrich_offline;
use openshell_driver_openshift::proto::json::{from_text, json_to_struct};
use openshell_driver_openshift::proto::*;

/// A request with every field generated; `None` picks a valid value, so that generation reaches
/// the checks behind the name and image ones.
#[derive(Debug, TypeGenerator)]
struct Request {
    name: Option<String>,
    workspace: Option<String>,
    image: Option<String>,
    command: Vec<String>,
    environment: Option<Vec<(String, String)>>,
    labels: Option<Vec<(String, String)>>,
    annotations: Option<Vec<(String, String)>>,
    gpu: Option<Option<u32>>,
    cpu_limit: Option<String>,
    memory_request: Option<String>,
    platform_config: Option<String>,
    driver_config: Option<String>,
    token: String,
}

impl Request {
    fn to_proto(&self) -> DriverSandbox {
        let block = |text: &Option<String>| {
            text.as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|v| json_to_struct(&v))
        };
        let mut platform = block(&self.platform_config);
        if let Some(annotations) = &self.annotations {
            let annotations: serde_json::Map<String, serde_json::Value> =
                annotations.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
            platform = json_to_struct(&serde_json::json!({ "annotations": annotations }));
        }
        DriverSandbox {
            id: "3f2b8a4e-8d7c-4b1a-9a55-0f5d0c9e1a11".into(),
            name: self.name.clone().unwrap_or_else(|| "dev".into()),
            workspace: self.workspace.clone().unwrap_or_default(),
            spec: Some(DriverSandboxSpec {
                command: if self.command.is_empty() {
                    vec!["/bin/sh".into()]
                } else {
                    self.command.clone()
                },
                environment: self.environment.iter().flatten().cloned().collect::<HashMap<_, _>>(),
                sandbox_token: self.token.clone(),
                resource_requirements: self.gpu.map(|count| ResourceRequirements {
                    gpu: Some(GpuResourceRequirements { count }),
                }),
                template: Some(DriverSandboxTemplate {
                    image: self.image.clone().unwrap_or_else(|| "registry.example/agent:1".into()),
                    labels: self.labels.iter().flatten().cloned().collect(),
                    resources: Some(DriverResourceRequirements {
                        cpu_limit: self.cpu_limit.clone().unwrap_or_default(),
                        memory_request: self.memory_request.clone().unwrap_or_default(),
                        ..Default::default()
                    }),
                    platform_config: platform,
                    driver_config: block(&self.driver_config),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

fn budget() -> usize {
    std::env::var("FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

#[test]
fn request_validation_never_panics_and_keeps_the_limits() {
    let runs = AtomicUsize::new(0);
    let accepted = AtomicUsize::new(0);
    let kubernetes = DriverConfig::defaults();
    let mut openshift = DriverConfig::defaults();
    openshift.openshift.platform = PlatformMode::Openshift;
    check!()
        .with_type::<Request>()
        .with_iterations(budget())
        .for_each(|request| {
            runs.fetch_add(1, Ordering::Relaxed);
            let sandbox = request.to_proto();
            for config in [&kubernetes, &openshift] {
                let Ok(mut rendered) = render_sandbox(&sandbox, config, SandboxApiVersion::V1beta1, &["expose"]) else {
                    continue;
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                let annotations = &rendered.manifest.spec.pod_template.metadata.annotations;
                let total: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
                assert!(total <= MAX_ANNOTATIONS_BYTES, "annotations over the limit rendered");
                let size = serde_json::to_vec(&rendered.manifest).map(|b| b.len()).unwrap_or(0);
                assert!(size <= MAX_OBJECT_BYTES, "a Sandbox over the limit rendered");
                let _ = enrich_offline(
                    &sandbox,
                    config,
                    &mut rendered,
                    &Default::default(),
                    &PlatformFacts::default(),
                );
            }
        });
    eprintln!(
        "fuzz: {} generated requests, {} renders accepted",
        runs.load(Ordering::Relaxed),
        accepted.load(Ordering::Relaxed)
    );
}

#[test]
fn reading_a_request_file_never_panics() {
    let runs = AtomicUsize::new(0);
    check!().with_iterations(budget()).for_each(|bytes: &[u8]| {
        runs.fetch_add(1, Ordering::Relaxed);
        if let Ok(text) = std::str::from_utf8(bytes) {
            let _ = from_text::<DriverSandbox>(text);
        }
    });
    eprintln!("fuzz: {} generated request files", runs.load(Ordering::Relaxed));
}
