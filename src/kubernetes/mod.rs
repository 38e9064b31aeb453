//! The Kubernetes implementation of [`crate::provisioner::SandboxProvisioner`]: pure rendering,
//! validation and status mapping, kept apart from the code that talks to the API server.

pub mod api_server_facts;
pub mod cache;
pub mod capacity;
pub mod client;
pub mod containers;
pub mod copies;
pub mod enricher;
pub mod event_watch;
pub mod expiry;
pub mod host_alias;
pub mod identity;
pub mod index;
pub mod ingress;
pub mod isolation;
pub mod limits;
pub mod mounts;
pub mod nodes;
pub mod operator;
pub mod permissions;
pub mod platform_event;
pub mod pod_status;
pub mod prepared;
pub mod presence;
pub mod provisioner;
pub mod proxy;
pub mod readiness;
pub mod render;
pub mod request_config;
pub mod request_rules;
pub mod settings;
pub mod sideload;
pub mod spiffe;
pub mod status;
pub mod supervisor;
pub mod topology;
pub mod volumes;
pub mod warm_pool;
pub mod watch;
pub mod watch_backoff;
pub mod workspace_volume;

pub use provisioner::KubeProvisioner;
