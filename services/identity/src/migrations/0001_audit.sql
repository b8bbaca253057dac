-- The audit journal: one row per event of the log, chained by hash (see projection/audit.rs).
CREATE TABLE events (
    sequence bigint PRIMARY KEY,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    tenant_id uuid NOT NULL,
    actor_id uuid NOT NULL,
    actor_kind text NOT NULL,
    occurred_at timestamptz NOT NULL,
    envelope jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL
);
CREATE INDEX events_tenant_time ON events (tenant_id, occurred_at);
CREATE INDEX events_time ON events (occurred_at);
CREATE INDEX events_actor ON events (actor_id, occurred_at);
CREATE INDEX events_aggregate ON events (aggregate_type, aggregate_id);
CREATE INDEX events_type ON events (event_type, occurred_at);
