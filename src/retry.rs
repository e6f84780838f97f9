//! Bounded retries with exponential backoff and jitter, for the transient faults every step
//! can meet (resets, timeouts, 5xx, 429). The caller says what is transient; the overall
//! deadline (GITOPS_TIMEOUT) bounds the total.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use backon::{ExponentialBuilder, Retryable};

/// Attempts per step, the first included.
pub const ATTEMPTS: usize = 5;

/// The backoff every step uses: 200 ms doubling to 5 s, with jitter.
pub fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(ATTEMPTS - 1)
        .with_jitter()
}

tokio::task_local! {
    /// When the whole run must be over (GITOPS_TIMEOUT), for waits that ask for more.
    static DEADLINE: Instant;
}

/// Runs `f` with `deadline` as the time every retry inside must fit in.
pub async fn within<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// True when a wait of `d` still ends before the run's deadline (always, outside [`within`]).
fn fits(d: Duration) -> bool {
    DEADLINE
        .try_with(|end| Instant::now() + d < *end)
        .unwrap_or(true)
}

/// The time left before the run's deadline (`None` outside [`within`]).
pub fn time_left() -> Option<Duration> {
    DEADLINE
        .try_with(|end| end.saturating_duration_since(Instant::now()))
        .ok()
}

/// Runs `op` until it succeeds, fails with a non-transient error, or the attempts run out.
/// `wait_hint` may ask for a longer wait (a server's Retry-After); when that wait would end
/// past the run's deadline, the error is returned at once rather than sleeping into it.
pub async fn retry<T, E, F, Fut>(
    what: &str,
    op: F,
    transient: impl Fn(&E) -> bool,
    wait_hint: impl Fn(&E) -> Option<Duration>,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    op.retry(backoff())
        .sleep(tokio::time::sleep)
        .when(|e| transient(e) && wait_hint(e).is_none_or(fits))
        .adjust(|e, dur| wait_hint(e).map(|hint| hint.min(Duration::from_secs(60))).or(dur))
        .notify(|e, dur| tracing::warn!(step = what, error = %e, retry_in_ms = dur.as_millis() as u64, "transient failure, retrying"))
        .await
}

/// The pause before attempt `n + 1` of a loop that is not driven by [`retry`].
pub fn backoff_delay(n: usize) -> Duration {
    let base = 200u64.saturating_mul(1 << n.min(5));
    let jitter = fastrand::u64(0..=base / 2);
    Duration::from_millis(base + jitter)
}
