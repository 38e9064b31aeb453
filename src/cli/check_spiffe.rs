//! `check` line for `--provider-spiffe-socket`: the SPIFFE CSI driver must be installed (a
//! `CSIDriver` named `csi.spiffe.io` that serves inline, `Ephemeral` volumes), or every sandbox
//! pod stays in ContainerCreating. The driver's own RBAC has no rights on CSIDrivers (it needs
//! none to run), so a refused read is a warning that says what to look at.

use k8s_openapi::api::storage::v1::CSIDriver;
use kube::api::Api;

use crate::cli::check_line::{CheckLine, Verdict, line};
use crate::config::DriverConfig;
use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::spiffe::SPIFFE_CSI_DRIVER;

const CHECK: &str = "provider-spiffe";

pub(crate) async fn spiffe_line(kube: &KubeCalls, config: &DriverConfig) -> Option<CheckLine> {
    let dir = config.spiffe.socket_dir()?;
    let socket = &config.spiffe.provider_spiffe_socket;
    let drivers: Api<CSIDriver> = Api::all(kube.client.clone());
    Some(
        match kube.call("get", "csidrivers", drivers.get(SPIFFE_CSI_DRIVER)).await {
            Ok(driver) => csi_driver_verdict(&driver, socket, &dir),
            Err(DriverError::NotFound(_)) => line(
                CHECK,
                Verdict::Fail,
                format!(
                    "no CSIDriver {SPIFFE_CSI_DRIVER}: install the SPIFFE CSI driver (with SPIRE), or sandbox pods never start"
                ),
            ),
            Err(e) => line(
                CHECK,
                Verdict::Warn,
                format!(
                    "{socket} from the {SPIFFE_CSI_DRIVER} volume at {dir}; cannot read CSIDriver {SPIFFE_CSI_DRIVER} ({e}): make sure the SPIFFE CSI driver is installed"
                ),
            ),
        },
    )
}

/// A CSIDriver that exists but does not serve inline volumes refuses the pod's volume too.
pub(crate) fn csi_driver_verdict(driver: &CSIDriver, socket: &str, dir: &str) -> CheckLine {
    let modes = driver
        .spec
        .volume_lifecycle_modes
        .clone()
        .unwrap_or_else(|| vec!["Persistent".into()]);
    if modes.iter().any(|m| m == "Ephemeral") {
        line(
            CHECK,
            Verdict::Pass,
            format!("{socket} from the {SPIFFE_CSI_DRIVER} volume at {dir} (CSIDriver installed)"),
        )
    } else {
        line(
            CHECK,
            Verdict::Fail,
            format!(
                "CSIDriver {SPIFFE_CSI_DRIVER} has volumeLifecycleModes {modes:?}, without Ephemeral: it cannot serve the pod's inline volume"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_driver_must_serve_inline_volumes() {
        let driver = |modes: Option<Vec<&str>>| CSIDriver {
            spec: k8s_openapi::api::storage::v1::CSIDriverSpec {
                volume_lifecycle_modes: modes.map(|m| m.into_iter().map(String::from).collect()),
                ..Default::default()
            },
            ..Default::default()
        };
        for (modes, verdict) in [
            (Some(vec!["Ephemeral"]), Verdict::Pass),
            (Some(vec!["Persistent", "Ephemeral"]), Verdict::Pass),
            (Some(vec!["Persistent"]), Verdict::Fail),
            (None, Verdict::Fail),
        ] {
            let got = csi_driver_verdict(&driver(modes.clone()), "/spiffe/agent.sock", "/spiffe");
            assert_eq!(got.verdict, verdict, "{modes:?}: {}", got.detail);
        }
    }
}
