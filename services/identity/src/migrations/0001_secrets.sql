-- Secrets that must not be in the event log; not a projection (never dropped by a rebuild).
CREATE TABLE credentials (
    actor_id uuid PRIMARY KEY,
    password_hash text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE signing_keys (
    kid text PRIMARY KEY,
    private_key bytea NOT NULL,
    public_key bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
