//! Which Kubernetes Events the driver watches: only those about a Sandbox or a Pod, selected by
//! the API server. Unfiltered, the first list of a cluster-wide (managed mode) Event watch pages
//! through every Event in the cluster only to throw nearly all of them away.

use kube::runtime::watcher;

/// The kinds [`crate::kubernetes::index::SandboxIndex::platform_event`] turns into platform events.
pub const EVENT_KINDS: [&str; 2] = ["Sandbox", "Pod"];

/// One watch per kind (a field selector cannot say "this kind or that"). The first list is
/// served from the API server's watch cache (`any_semantic`): old Events are skipped anyway.
pub fn event_watch_configs() -> Vec<watcher::Config> {
    EVENT_KINDS
        .iter()
        .map(|kind| {
            watcher::Config::default()
                .fields(&format!("involvedObject.kind={kind}"))
                .any_semantic()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher::ListSemantic;

    #[test]
    fn every_event_watch_is_filtered_by_the_api_server() {
        let configs = event_watch_configs();
        let selectors: Vec<_> = configs.iter().map(|c| c.field_selector.clone()).collect();
        assert_eq!(
            selectors,
            vec![
                Some("involvedObject.kind=Sandbox".to_string()),
                Some("involvedObject.kind=Pod".to_string())
            ]
        );
        for config in &configs {
            assert_eq!(config.list_semantic, ListSemantic::Any, "{config:?}");
        }
    }
}
