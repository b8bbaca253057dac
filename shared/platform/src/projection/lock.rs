//! Leadership of a projection: a session-level PostgreSQL advisory lock held on a connection taken
//! out of the pool, so the lock lives exactly as long as that connection (closing it, or losing
//! it, releases the lock to a standby instance).

use std::time::Duration;

use deadpool_postgres::{ClientWrapper, Object, Pool};
use tokio_util::sync::CancellationToken;

use super::ProjectionError;

/// Waits until this instance holds the lock on `key`; `None` if `shutdown` fired first.
pub(crate) async fn acquire(
    pool: &Pool,
    key: &str,
    poll: Duration,
    shutdown: &CancellationToken,
) -> Result<Option<ClientWrapper>, ProjectionError> {
    loop {
        let client = pool.get().await?;
        let locked: bool = client
            .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&key])
            .await?
            .get(0);
        if locked {
            return Ok(Some(Object::take(client)));
        }
        drop(client);
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(poll) => {}
        }
    }
}
