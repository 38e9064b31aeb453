//! How soon a failed watch is retried. kube's default (client-go's: 0.8 s doubling to 30 s)
//! is built for thousands of clients sparing a struggling API server; the driver is one client
//! with four watches, and after an API-server restart that default leaves its cache behind
//! for up to half a minute. Retries here start at 100 ms and never wait more than a second.

use std::time::Duration;

use kube::runtime::utils::ResetTimerBackoff;
use kube::runtime::watcher::ExponentialBackoff;

pub const MIN_DELAY: Duration = Duration::from_millis(100);
/// Jitter may add up to this much again.
pub const MAX_DELAY: Duration = Duration::from_millis(500);
/// A watch that ran this long without an error starts again from MIN_DELAY.
const RESET_AFTER: Duration = Duration::from_secs(60);

pub fn watch_backoff() -> ResetTimerBackoff<ExponentialBackoff> {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(MIN_DELAY)
        .with_max_delay(MAX_DELAY)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(ExponentialBackoff::from(builder), RESET_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stay_within_a_second_however_long_the_outage() {
        let delays: Vec<Duration> = watch_backoff().take(50).collect();
        assert_eq!(delays.len(), 50, "the backoff never gives up");
        assert!(delays[0] >= MIN_DELAY && delays[0] < 2 * MIN_DELAY, "{:?}", delays[0]);
        for d in &delays {
            assert!(*d <= 2 * MAX_DELAY, "{d:?}");
        }
    }
}
