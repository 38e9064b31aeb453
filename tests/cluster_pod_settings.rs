//! Tier 3: driver-wide pod settings as the API server stores them on the controller's Pod.

mod common;

use common::tier3::Env;
use common::*;

#[tokio::test]
#[ignore = "tier 3: needs the local cluster (make test-integration)"]
async fn host_gateway_ip_gives_the_pod_the_gateway_host_names() {
    let env = Env::start_with(None, &["--host-gateway-ip", "172.17.0.1"]).await;
    let id = new_id();
    env.create(&id, "aliased").await;
    let pod = env.stored_pod("default--aliased").await;
    let aliases = pod.spec.and_then(|s| s.host_aliases).expect("hostAliases stored");
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].ip, "172.17.0.1");
    assert_eq!(
        aliases[0].hostnames.clone().unwrap_or_default(),
        ["host.docker.internal", "host.openshell.internal"]
    );
    env.wait_ready(&id).await;
}
