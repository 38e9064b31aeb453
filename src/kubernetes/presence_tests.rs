use k8s_openapi::api::core::v1::ServiceAccount;
use kube::runtime::watcher::Event;

use super::*;

fn account() -> ServiceAccount {
    ServiceAccount::default()
}

/// The variant only: which object is kept is checked apart.
#[derive(Debug, PartialEq)]
enum Seen {
    Unknown,
    Present,
    Absent,
}

fn seen(known: &Known<ServiceAccount>) -> Seen {
    match known {
        Known::Unknown => Seen::Unknown,
        Known::Present(_) => Seen::Present,
        Known::Absent => Seen::Absent,
    }
}

#[test]
fn presence_follows_the_watch() {
    use Seen::*;
    let cases: Vec<(&str, Vec<Event<ServiceAccount>>, Seen)> = vec![
        ("nothing yet", vec![], Unknown),
        ("a list in progress", vec![Event::Init], Unknown),
        (
            "listed, found",
            vec![Event::Init, Event::InitApply(account()), Event::InitDone],
            Present,
        ),
        ("listed, none", vec![Event::Init, Event::InitDone], Absent),
        (
            "created later",
            vec![Event::Init, Event::InitDone, Event::Apply(account())],
            Present,
        ),
        (
            "deleted later",
            vec![
                Event::Init,
                Event::InitApply(account()),
                Event::InitDone,
                Event::Delete(account()),
            ],
            Absent,
        ),
        (
            "a relist keeps the old answer until it is done, then forgets what the last list found",
            vec![
                Event::Init,
                Event::InitApply(account()),
                Event::InitDone,
                Event::Init,
                Event::InitDone,
            ],
            Absent,
        ),
    ];
    for (what, events, expected) in cases {
        let (mut known, mut listed) = (Known::Unknown, None);
        for event in events {
            known = next_known(event, &known, &mut listed);
        }
        assert_eq!(seen(&known), expected, "{what}");
    }
}

#[test]
fn the_object_kept_is_the_latest_seen() {
    let named = |name: &str| ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let (mut known, mut listed) = (Known::Unknown, None);
    for event in [
        Event::Init,
        Event::InitApply(named("first")),
        Event::InitDone,
        Event::Apply(named("second")),
    ] {
        known = next_known(event, &known, &mut listed);
    }
    match known {
        Known::Present(k) => assert_eq!(k.metadata.name.as_deref(), Some("second")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_a_refusal_stops_the_watch() {
    let status = |code| {
        kube::Error::Api(
            kube::core::Status {
                code,
                ..Default::default()
            }
            .boxed(),
        )
    };
    assert!(forbidden(&watcher::Error::InitialListFailed(status(403))));
    assert!(!forbidden(&watcher::Error::InitialListFailed(status(500))));
    assert!(!forbidden(&watcher::Error::WatchFailed(status(410))));
}
