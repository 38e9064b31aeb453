//! Tier 1: the tests of `trace`.

use super::*;

#[test]
fn traceparent_table() {
    let ok = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("valid");
    assert_eq!(ok.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(ok.parent_id, "00f067aa0ba902b7");
    assert!(ok.sampled);
    assert!(
        !parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .expect("valid")
            .sampled
    );
    for bad in [
        "",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    ] {
        assert!(parse_traceparent(bad).is_none(), "{bad:?}");
    }
    assert_eq!(new_span_id().len(), 16);
}
