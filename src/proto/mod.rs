//! The wire types: the generated messages of `proto/compute_driver.proto` (package
//! `openshell.compute.v1`) with their protobuf JSON mapping (pbjson), and the helpers that
//! belong to them: reading and writing requests as JSON/YAML (`json`), `google.protobuf.Struct`
//! to and from JSON, and the gateway's phase and event names (`phase`).

pub mod json;
pub mod list;
pub mod phase;

#[allow(clippy::all, clippy::pedantic)]
mod generated {
    tonic::include_proto!("openshell.compute.v1");
    include!(concat!(env!("OUT_DIR"), "/openshell.compute.v1.serde.rs"));
}

pub use generated::*;
pub use list::ListSandboxesResponse;

impl std::fmt::Debug for DriverSandboxSpec {
    /// Like the derived Debug, but the sandbox token is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.sandbox_token.is_empty() {
            ""
        } else {
            "<redacted>"
        };
        f.debug_struct("DriverSandboxSpec")
            .field("log_level", &self.log_level)
            .field("environment", &self.environment)
            .field("template", &self.template)
            .field("resource_requirements", &self.resource_requirements)
            .field("sandbox_token", &token)
            .field("command", &self.command)
            .field("tty", &self.tty)
            .finish()
    }
}
