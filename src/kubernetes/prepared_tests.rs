use std::time::{Duration, Instant};

use super::*;

fn source(name: &str, version: &str) -> SourceVersion {
    SourceVersion {
        name: name.into(),
        resource_version: version.into(),
    }
}

#[test]
fn a_prepared_namespace_is_current_only_for_the_same_sources_within_the_ttl() {
    let start = Instant::now();
    let ttl = Duration::from_secs(30);
    let recorded = vec![source("tls", "10"), source("pull", "7")];
    let cases: &[(&str, &str, Vec<SourceVersion>, Duration, bool)] = &[
        ("same sources, just now", "ws-a", recorded.clone(), Duration::ZERO, true),
        (
            "same sources, before the ttl",
            "ws-a",
            recorded.clone(),
            Duration::from_secs(29),
            true,
        ),
        ("same sources, at the ttl", "ws-a", recorded.clone(), ttl, false),
        (
            "a source changed",
            "ws-a",
            vec![source("tls", "11"), source("pull", "7")],
            Duration::ZERO,
            false,
        ),
        (
            "a source fewer",
            "ws-a",
            vec![source("tls", "10")],
            Duration::ZERO,
            false,
        ),
        ("another namespace", "ws-b", recorded.clone(), Duration::ZERO, false),
    ];
    for (what, namespace, sources, after, want) in cases {
        let prepared = PreparedNamespaces::new(ttl);
        prepared.record("ws-a", recorded.clone(), start);
        assert_eq!(prepared.is_current(namespace, sources, start + *after), *want, "{what}");
    }
}

#[test]
fn a_namespace_without_sources_is_remembered_too() {
    let prepared = PreparedNamespaces::default();
    let now = Instant::now();
    assert!(!prepared.is_current("ws", &[], now));
    prepared.record("ws", Vec::new(), now);
    assert!(prepared.is_current("ws", &[], now));
}

#[test]
fn forget_makes_the_next_create_prepare_again() {
    let prepared = PreparedNamespaces::default();
    let now = Instant::now();
    prepared.record("ws", vec![source("tls", "1")], now);
    prepared.forget("ws");
    assert!(!prepared.is_current("ws", &[source("tls", "1")], now));
}

#[test]
fn expired_entries_are_dropped_when_another_is_recorded() {
    let prepared = PreparedNamespaces::new(Duration::from_secs(1));
    let start = Instant::now();
    prepared.record("old", Vec::new(), start);
    prepared.record("new", Vec::new(), start + Duration::from_secs(2));
    assert_eq!(prepared.len(), 1);
}
