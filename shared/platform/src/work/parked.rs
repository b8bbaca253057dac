//! Parked messages: poison messages a work consumer gave up on, kept in PostgreSQL where an
//! operator sees them (`SELECT * FROM work.parked`) and can act on them; the message itself stays
//! in its stream at `stream_sequence`. Parking the same message again (it was redelivered before
//! the first parking was acknowledged) keeps one row with the latest reason.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::Delivery;
use crate::postgres::{Migration, PostgresError};

/// The schema of the parked table (shared by every service of an installation).
pub const SCHEMA: &str = "work";

pub const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "parked",
    "CREATE TABLE parked (
         consumer text NOT NULL,
         stream text NOT NULL,
         stream_sequence bigint NOT NULL,
         subject text NOT NULL,
         deliveries bigint NOT NULL,
         reason text NOT NULL,
         payload bytea NOT NULL,
         parked_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (consumer, stream, stream_sequence)
     );",
)];

/// One parked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub consumer: String,
    pub stream: String,
    pub stream_sequence: u64,
    pub subject: String,
    pub deliveries: u64,
    pub reason: String,
    pub payload: Vec<u8>,
    pub parked_at: DateTime<Utc>,
}

pub(super) async fn park(
    pool: &Pool,
    consumer: &str,
    stream: &str,
    delivery: &Delivery,
    reason: &str,
) -> Result<(), PostgresError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO work.parked
                 (consumer, stream, stream_sequence, subject, deliveries, reason, payload)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (consumer, stream, stream_sequence) DO UPDATE
                 SET deliveries = EXCLUDED.deliveries, reason = EXCLUDED.reason,
                     parked_at = now()",
            &[
                &consumer,
                &stream,
                &to_i64(delivery.stream_sequence()),
                &delivery.subject(),
                &to_i64(delivery.delivered()),
                &reason,
                &delivery.payload(),
            ],
        )
        .await?;
    Ok(())
}

/// The messages `consumer` parked, oldest first.
pub async fn parked(pool: &Pool, consumer: &str) -> Result<Vec<Parked>, PostgresError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT consumer, stream, stream_sequence, subject, deliveries, reason, payload,
                    parked_at
             FROM work.parked WHERE consumer = $1 ORDER BY parked_at, stream_sequence",
            &[&consumer],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Parked {
            consumer: row.get(0),
            stream: row.get(1),
            stream_sequence: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
            subject: row.get(3),
            deliveries: u64::try_from(row.get::<_, i64>(4)).unwrap_or(0),
            reason: row.get(5),
            payload: row.get(6),
            parked_at: row.get(7),
        })
        .collect())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
