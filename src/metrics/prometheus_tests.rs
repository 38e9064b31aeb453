//! Tier 1: the tests of `prometheus`.

use super::*;

#[test]
fn exposition_follows_prometheus_conventions() {
    let m = PrometheusMetrics::new();
    m.rpc_completed("CreateSandbox", tonic::Code::Ok, Duration::from_millis(3));
    m.rpc_completed("CreateSandbox", tonic::Code::InvalidArgument, Duration::from_millis(1));
    m.sandbox_created();
    m.sandbox_failed("permission_denied");
    m.watch_stream_opened();
    m.watch_event_sent("sandbox");
    m.kube_call("create", "sandboxes", "success", Duration::from_millis(12));
    m.active_sandboxes(&[("ready", 2), ("stopped", 1)]);
    let text = m.encode();
    for want in [
        "openshell_driver_grpc_requests_total{method=\"CreateSandbox\",code=\"Ok\"} 1",
        "openshell_driver_grpc_requests_total{method=\"CreateSandbox\",code=\"InvalidArgument\"} 1",
        "openshell_driver_grpc_request_duration_seconds_count{method=\"CreateSandbox\"} 2",
        "openshell_driver_sandboxes_created_total 1",
        "openshell_driver_sandbox_failures_total{reason=\"permission_denied\"} 1",
        "openshell_driver_watch_streams 1",
        "openshell_driver_watch_events_total{kind=\"sandbox\"} 1",
        "openshell_driver_kube_requests_total{verb=\"create\",resource=\"sandboxes\",outcome=\"success\"} 1",
        "openshell_driver_sandboxes{phase=\"ready\"} 2",
        "openshell_driver_build_info{version=",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
