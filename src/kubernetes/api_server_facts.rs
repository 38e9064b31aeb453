//! The I/O half of the supervisor delivery choice: the API server's version, and on 1.33 to
//! 1.35 its `ImageVolume` feature gate (the `kubernetes_feature_enabled` series of its own
//! `/metrics`, which needs `get` on that nonResourceURL; without it `auto` stays with init
//! containers and says why).

use crate::error::DriverError;
use crate::kubernetes::client::KubeCalls;
use crate::kubernetes::sideload::{ApiServerFacts, GateState, gate_from_metrics, parse_version};

impl KubeCalls {
    pub async fn api_server_facts(&self) -> Result<ApiServerFacts, DriverError> {
        let info = self.call("get", "version", self.client.apiserver_version()).await?;
        let version = parse_version(&info.major, &info.minor);
        let image_volume_gate = if ApiServerFacts::gate_matters(version) {
            self.image_volume_gate().await
        } else {
            GateState::Unknown("not needed at this version".into())
        };
        Ok(ApiServerFacts {
            version,
            image_volume_gate,
        })
    }

    /// The `ImageVolume` gate as the API server's own `/metrics` report it.
    pub async fn image_volume_gate(&self) -> GateState {
        let request = match http::Request::get("/metrics").body(Vec::new()) {
            Ok(r) => r,
            Err(e) => return GateState::Unknown(e.to_string()),
        };
        match self.call("get", "metrics", self.client.request_text(request)).await {
            Ok(text) => gate_from_metrics(&text),
            Err(e) => GateState::Unknown(format!("reading /metrics: {e}")),
        }
    }
}
