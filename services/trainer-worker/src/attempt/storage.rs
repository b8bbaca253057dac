//! Patience with the object store: an operation that fails for a reason that may pass (the
//! connection dropped, the server restarts) is tried again with a growing pause for up to
//! [`PATIENCE`], so a NATS restart in the middle of a run costs a pause, not the run. A missing
//! object, a wrong digest or a local file error is final at once.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trainyard_platform::object_store::ObjectStoreError;

/// How long an operation is retried in all.
pub const PATIENCE: Duration = Duration::from_secs(120);
const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Runs `op` until it succeeds, fails for good, [`PATIENCE`] has passed or `shutdown` is
/// cancelled.
pub async fn patiently<T, F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut op: F,
) -> Result<T, ObjectStoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ObjectStoreError>>,
{
    let started = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error @ ObjectStoreError::Infrastructure { .. })
                if started.elapsed() + pause < PATIENCE && !shutdown.is_cancelled() =>
            {
                tracing::warn!(%error, what, "object store operation failed; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn down() -> ObjectStoreError {
        ObjectStoreError::Infrastructure {
            bucket: "models".into(),
            name: "m".into(),
            source: "connection lost".into(),
        }
    }

    #[tokio::test]
    async fn passing_trouble_is_waited_out_and_a_verdict_is_final() {
        let calls = AtomicU32::new(0);
        let token = CancellationToken::new();
        let got = patiently("test", &token, || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(down()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(got.unwrap(), 2);

        calls.store(0, Ordering::SeqCst);
        let missing: Result<(), _> = patiently("test", &token, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(ObjectStoreError::NotFound {
                bucket: "models".into(),
                name: "m".into(),
            })
        })
        .await;
        assert!(matches!(missing, Err(ObjectStoreError::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        token.cancel();
        calls.store(0, Ordering::SeqCst);
        let shut: Result<(), _> = patiently("test", &token, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(down())
        })
        .await;
        assert!(shut.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "no retries once shutting down"
        );
    }
}
