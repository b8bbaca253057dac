//! The checkpoint table: one row per projection with the stream sequence of the last event whose
//! effects are committed. It lives in the projection's schema so that dropping the schema resets
//! it together with the rows it describes.

use deadpool_postgres::{Pool, Transaction};

use crate::postgres::{check_schema_name, PostgresError};

/// Creates `<schema>.projection_checkpoints` if it is missing (the schema must exist).
pub(crate) async fn ensure_table(pool: &Pool, schema: &str) -> Result<(), PostgresError> {
    check_schema_name(schema)?;
    let client = pool.get().await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {schema}.projection_checkpoints (
                 projection text PRIMARY KEY,
                 last_sequence bigint NOT NULL,
                 updated_at timestamptz NOT NULL DEFAULT now()
             )"
        ))
        .await?;
    Ok(())
}

/// The committed checkpoint of `projection` (0 when it never applied anything or its schema is
/// gone).
pub async fn read_checkpoint(
    pool: &Pool,
    schema: &str,
    projection: &str,
) -> Result<u64, PostgresError> {
    check_schema_name(schema)?;
    let client = pool.get().await?;
    let exists: bool = client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{schema}.projection_checkpoints")],
        )
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_opt(
            &format!(
                "SELECT last_sequence FROM {schema}.projection_checkpoints WHERE projection = $1"
            ),
            &[&projection],
        )
        .await?;
    Ok(row.map_or(0, |r| as_sequence(r.get(0))))
}

/// Reads the checkpoint inside the batch transaction and locks its row, so two writers (which the
/// runner's advisory lock already rules out) could still never interleave batches.
pub(crate) async fn lock_checkpoint(
    tx: &Transaction<'_>,
    projection: &str,
) -> Result<u64, tokio_postgres::Error> {
    // The no-op update takes the row lock and returns the value in one round trip.
    let row = tx
        .query_one(
            "INSERT INTO projection_checkpoints (projection, last_sequence) VALUES ($1, 0)
             ON CONFLICT (projection) DO UPDATE SET projection = EXCLUDED.projection
             RETURNING last_sequence",
            &[&projection],
        )
        .await?;
    Ok(as_sequence(row.get(0)))
}

/// Moves the checkpoint forward in the batch transaction.
pub(crate) async fn store_checkpoint(
    tx: &Transaction<'_>,
    projection: &str,
    sequence: u64,
) -> Result<(), tokio_postgres::Error> {
    let sequence = i64::try_from(sequence).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE projection_checkpoints SET last_sequence = $2, updated_at = now()
         WHERE projection = $1",
        &[&projection, &sequence],
    )
    .await?;
    Ok(())
}

fn as_sequence(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
