//! Subcommands besides `serve`: `render`, `client` and `check`.

pub mod check;
mod check_line;
mod check_network;
mod check_spiffe;
mod check_warm_pool;
pub mod check_workspace;
mod check_workspace_volume;
pub mod client;
pub mod render;
mod render_warm;

use crate::proto::DriverSandbox;

/// A `DriverSandbox` from a request file (the protobuf JSON mapping, as JSON or YAML). What a
/// person may leave out is filled in as a gateway would: a new id, and `/bin/bash -l`.
pub fn read_sandbox(text: &str) -> anyhow::Result<DriverSandbox> {
    let mut sandbox: DriverSandbox =
        crate::proto::json::from_text(text).map_err(|e| anyhow::anyhow!("sandbox request: {e}"))?;
    if sandbox.id.is_empty() {
        sandbox.id = uuid::Uuid::new_v4().to_string();
    }
    let spec = sandbox.spec.get_or_insert_with(Default::default);
    if spec.command.is_empty() {
        spec.command = vec!["/bin/bash".into(), "-l".into()];
    }
    Ok(sandbox)
}
