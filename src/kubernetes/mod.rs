//! The Kubernetes implementation of [`crate::provisioner::SandboxProvisioner`]: pure rendering,
//! validation and status mapping, kept apart from the code that talks to the API server.

pub mod cache;
pub mod capacity;
pub mod client;
pub mod containers;
pub mod enricher;
pub mod identity;
pub mod index;
pub mod permissions;
pub mod pod_status;
pub mod provisioner;
pub mod render;
pub mod request_config;
pub mod request_rules;
pub mod status;
pub mod supervisor;
pub mod validation;
pub mod volumes;
pub mod watch;

pub use provisioner::KubeProvisioner;
