//! openshell-driver-openshift: an out-of-process OpenShell compute driver that provisions
//! sandboxes as kubernetes-sigs/agent-sandbox `Sandbox` objects, with OpenShift support.

pub mod cli;
pub mod config;
pub mod error;
pub mod grammar;
pub mod kubernetes;
pub mod launcher;
pub mod metrics;
pub mod openshift;
pub mod proto;
pub mod provisioner;
pub mod server;
pub mod telemetry;
pub mod warm_identity;
pub mod workspace_seed;
