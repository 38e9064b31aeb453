use std::sync::{Arc, Mutex};

use futures::stream;
use kube::runtime::watcher::{Error, Event};

use super::*;

type Item = Result<Event<String>, Error>;
/// What a case is, its scripted watches, what `apply` must see, and how many watches are made.
type Case = (&'static str, Vec<Vec<Item>>, &'static [&'static str], usize);

fn lost() -> Error {
    Error::WatchStartFailed(kube::Error::Service("connection refused".into()))
}

fn list_failed() -> Error {
    Error::InitialListFailed(kube::Error::Service("connection refused".into()))
}

/// Each `make` call takes the next scripted watch; what `apply` saw, and how many watches were made.
async fn run(scripts: Vec<Vec<Item>>) -> (Vec<String>, usize) {
    let scripts = Arc::new(Mutex::new(scripts.into_iter()));
    let made = Arc::new(Mutex::new(0));
    let (_tx, shutdown) = tokio::sync::watch::channel(false);
    let mut seen = Vec::new();
    let make = || {
        *made.lock().expect("count") += 1;
        stream::iter(scripts.lock().expect("scripts").next().unwrap_or_default())
    };
    follow_relisting(make, shutdown, "test", |event| match event {
        Event::Init => seen.push("init".to_string()),
        Event::InitApply(s) | Event::Apply(s) => seen.push(s),
        Event::InitDone => seen.push("done".to_string()),
        Event::Delete(s) => seen.push(format!("-{s}")),
    })
    .await;
    let made = *made.lock().expect("count");
    (seen, made)
}

#[tokio::test(start_paused = true)]
async fn a_watch_that_cannot_start_again_relists_and_other_errors_resume() {
    let cases: Vec<Case> = vec![
        (
            "lost connection: a new watch, from a fresh list",
            vec![
                vec![
                    Ok(Event::Init),
                    Ok(Event::InitApply("a".into())),
                    Ok(Event::InitDone),
                    Err(lost()),
                ],
                vec![Ok(Event::Init), Ok(Event::InitApply("b".into())), Ok(Event::InitDone)],
            ],
            &["init", "a", "done", "init", "b", "done"],
            2,
        ),
        (
            "a failed list is retried on the same watch",
            vec![vec![
                Err(list_failed()),
                Ok(Event::Init),
                Ok(Event::InitDone),
                Ok(Event::Apply("c".into())),
            ]],
            &["init", "done", "c"],
            1,
        ),
    ];
    for (what, scripts, want, watches) in cases {
        let (seen, made) = run(scripts).await;
        assert_eq!(seen, want, "{what}");
        assert_eq!(made, watches, "{what}: watches made");
    }
}
