//! The audit journal: every event of every service (`evt.>`), queryable by time, tenant, actor,
//! aggregate and type, and tamper-evident. Row n stores
//! `hash_n = sha256(hash_{n-1} || canonical JSON of the envelope || stream sequence)`, so editing,
//! deleting or reordering a row breaks the chain from that row on; `verify` finds the first break.

use sha2::{Digest, Sha256};
use trainyard_core::{EventEnvelope, StoredEvent};
use trainyard_platform::postgres::{Migration, Transaction};
use trainyard_platform::projection::{ApplyError, Projection};

/// `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "audit_journal",
    include_str!("../migrations/0001_audit.sql"),
)];

#[derive(Debug, Clone)]
pub struct AuditProjection {
    /// The events subject root (`evt`).
    pub events_root: String,
}

/// JSON with object keys sorted at every level and no insignificant whitespace: the same bytes
/// however the value was stored (PostgreSQL's `jsonb` reorders keys).
pub fn canonical_json(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The chain link of one row.
pub fn link(prev_hash: &str, envelope: &serde_json::Value, sequence: i64) -> String {
    let digest = Sha256::new()
        .chain_update(prev_hash.as_bytes())
        .chain_update(canonical_json(envelope).as_bytes())
        .chain_update(sequence.to_string().as_bytes())
        .finalize();
    hex::encode(digest)
}

impl Projection for AuditProjection {
    fn name(&self) -> &str {
        "audit"
    }

    fn schema(&self) -> &str {
        "audit"
    }

    fn filter_subjects(&self) -> Vec<String> {
        vec![format!("{}.>", self.events_root)]
    }

    fn migrations(&self) -> &[Migration] {
        MIGRATIONS
    }

    async fn apply(&self, tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        let prev: String = tx
            .query_opt(
                "SELECT hash FROM events ORDER BY sequence DESC LIMIT 1",
                &[],
            )
            .await?
            .map_or_else(|| GENESIS.to_owned(), |row| row.get(0));
        let sequence = i64::try_from(event.sequence)
            .map_err(|_| ApplyError::Invalid("sequence overflows bigint".into()))?;
        let envelope: &EventEnvelope = &event.envelope;
        let value = serde_json::to_value(envelope)?;
        let hash = link(&prev, &value, sequence);
        tx.execute(
            "INSERT INTO events (sequence, event_id, event_type, aggregate_type, aggregate_id, tenant_id, actor_id, actor_kind, occurred_at, envelope, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (sequence) DO NOTHING",
            &[
                &sequence,
                &envelope.event_id.0,
                &envelope.event_type,
                &envelope.aggregate_type,
                &envelope.aggregate_id,
                &envelope.tenant_id.0,
                &envelope.actor.id.0,
                &serde_json::to_value(envelope.actor.kind)?.as_str().unwrap_or_default().to_owned(),
                &envelope.occurred_at,
                &value,
                &prev,
                &hash,
            ],
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = serde_json::json!({"b": 1, "a": {"d": [1, {"z": 0, "y": 1}], "c": "x"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}"#
        );
    }

    #[test]
    fn each_link_depends_on_the_previous_one_and_the_sequence() {
        let e = serde_json::json!({"event_type": "UserCreated"});
        let first = link(GENESIS, &e, 1);
        assert_ne!(link(&first, &e, 2), link(GENESIS, &e, 2));
        assert_ne!(link(GENESIS, &e, 1), link(GENESIS, &e, 2));
    }
}
