//! A test read model over `evt.bank.account.<id>` events carrying `{"amount": n}`: an event log
//! (no unique key, so a duplicate application shows as an extra row) and per-account tallies
//! (counts and sums, so a duplicate changes them). `batched` switches between the runner's
//! per-event path and one multi-row `UNNEST` statement per batch.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use chrono::{TimeZone, Utc};
use trainyard_core::{Actor, CorrelationId, EventEnvelope, EventId, StoredEvent, TenantId};
use trainyard_platform::postgres::{Migration, Transaction};
use trainyard_platform::projection::{ApplyError, Projection};

pub const MIGRATIONS: &[Migration] = &[
    Migration::new(
        1,
        "ledger",
        "CREATE TABLE event_log (seq bigint NOT NULL, account text NOT NULL, amount bigint NOT NULL);
         CREATE TABLE tallies (account text PRIMARY KEY, events bigint NOT NULL, total bigint NOT NULL);",
    ),
];

#[derive(Debug, Clone)]
pub struct Ledger {
    pub name: String,
    pub schema: String,
    pub batched: bool,
}

impl Ledger {
    pub fn new(name: &str, schema: &str) -> Self {
        Self {
            name: name.into(),
            schema: schema.into(),
            batched: true,
        }
    }
}

fn amount(event: &StoredEvent) -> Result<i64, ApplyError> {
    event.envelope.payload["amount"]
        .as_i64()
        .ok_or_else(|| ApplyError::Invalid(format!("event {} has no amount", event.sequence)))
}

impl Projection for Ledger {
    fn name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> &str {
        &self.schema
    }

    fn filter_subjects(&self) -> Vec<String> {
        vec!["evt.bank.account.>".into()]
    }

    fn migrations(&self) -> &[Migration] {
        MIGRATIONS
    }

    async fn apply(&self, tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        let seq = i64::try_from(event.sequence).expect("sequence fits i64");
        let account = &event.envelope.aggregate_id;
        let amount = amount(event)?;
        tx.execute(
            "INSERT INTO event_log (seq, account, amount) VALUES ($1, $2, $3)",
            &[&seq, account, &amount],
        )
        .await?;
        tx.execute(
            "INSERT INTO tallies (account, events, total) VALUES ($1, 1, $2)
             ON CONFLICT (account) DO UPDATE
             SET events = tallies.events + 1, total = tallies.total + EXCLUDED.total",
            &[account, &amount],
        )
        .await?;
        Ok(())
    }

    async fn apply_batch(
        &self,
        tx: &Transaction<'_>,
        events: &[StoredEvent],
    ) -> Result<(), ApplyError> {
        if !self.batched {
            for event in events {
                self.apply(tx, event).await?;
            }
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(events.len());
        let mut accounts = Vec::with_capacity(events.len());
        let mut amounts = Vec::with_capacity(events.len());
        for event in events {
            seqs.push(i64::try_from(event.sequence).expect("sequence fits i64"));
            accounts.push(event.envelope.aggregate_id.as_str());
            amounts.push(amount(event)?);
        }
        let statement = tx
            .prepare_cached(
                "WITH batch AS (
                     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[]) AS b(seq, account, amount)
                 ), logged AS (
                     INSERT INTO event_log (seq, account, amount) SELECT seq, account, amount FROM batch
                 )
                 INSERT INTO tallies (account, events, total)
                 SELECT account, count(*), sum(amount) FROM batch GROUP BY account
                 ON CONFLICT (account) DO UPDATE
                 SET events = tallies.events + EXCLUDED.events, total = tallies.total + EXCLUDED.total",
            )
            .await?;
        tx.execute(&statement, &[&seqs, &accounts, &amounts])
            .await?;
        Ok(())
    }
}

/// Creates the `EVENTS` stream the way the event store does (subjects `evt.>`).
pub async fn create_events_stream(js: &jetstream::Context) -> stream::Stream {
    js.get_or_create_stream(stream::Config {
        name: "EVENTS".into(),
        subjects: vec!["evt.>".into()],
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .expect("create EVENTS stream")
}

/// A deterministic envelope for event number `n` (account `n % accounts`, amount `n`).
pub fn envelope(n: u64, accounts: u64) -> (String, EventEnvelope) {
    let account = format!("acct{}", n % accounts);
    let envelope = EventEnvelope {
        envelope_version: 1,
        event_id: EventId::new(),
        event_type: "Deposited".into(),
        schema_version: 1,
        occurred_at: Utc
            .timestamp_opt(1_700_000_000 + n as i64, 0)
            .single()
            .expect("valid time"),
        tenant_id: TenantId(uuid::Uuid::nil()),
        actor: Actor::system(),
        correlation_id: CorrelationId::new(),
        causation_id: None,
        aggregate_type: "bank.account".into(),
        aggregate_id: account.clone(),
        payload: serde_json::json!({ "amount": n }),
    };
    (format!("evt.bank.account.{account}"), envelope)
}

/// Publishes events `from..to`, keeping up to `window` acknowledgements in flight (below the
/// client's default cap of 5,000, past which `publish` itself waits for acknowledgements).
pub async fn publish(js: &jetstream::Context, from: u64, to: u64, accounts: u64, window: usize) {
    let mut pending = std::collections::VecDeque::with_capacity(window);
    for n in from..to {
        let (subject, envelope) = envelope(n, accounts);
        let body = serde_json::to_vec(&envelope).expect("encode envelope");
        let ack = js.publish(subject, body.into()).await.expect("publish");
        pending.push_back(ack);
        if pending.len() >= window {
            pending
                .pop_front()
                .expect("non-empty")
                .await
                .expect("publish ack");
        }
    }
    for ack in pending {
        ack.await.expect("publish ack");
    }
}
