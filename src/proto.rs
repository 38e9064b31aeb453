//! Generated types of `proto/compute_driver.proto` (package `openshell.compute.v1`).

#![allow(clippy::all, clippy::pedantic)]

tonic::include_proto!("openshell.compute.v1");

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
