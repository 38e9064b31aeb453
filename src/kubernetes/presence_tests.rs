use k8s_openapi::api::core::v1::ServiceAccount;
use kube::runtime::watcher::Event;

use super::*;

fn account() -> ServiceAccount {
    ServiceAccount::default()
}

#[test]
fn presence_follows_the_watch() {
    use Presence::*;
    let cases: Vec<(&str, Vec<Event<ServiceAccount>>, Presence)> = vec![
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
        let (mut presence, mut listed) = (Unknown, false);
        for event in &events {
            presence = next_presence(event, presence, &mut listed);
        }
        assert_eq!(presence, expected, "{what}");
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
