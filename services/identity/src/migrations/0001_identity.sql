-- Identity's read model, rebuilt from the log by dropping the schema and replaying.
CREATE TABLE tenants (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE TABLE users (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    login text NOT NULL,
    display_name text NOT NULL,
    roles uuid[] NOT NULL,
    blocked boolean NOT NULL DEFAULT false,
    must_change_password boolean NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX users_tenant_login ON users (tenant_id, lower(login));
CREATE TABLE roles (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    description text NOT NULL,
    permissions jsonb NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE INDEX roles_tenant ON roles (tenant_id, lower(name));
CREATE TABLE service_accounts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    deleted boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);
CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    actor_id uuid NOT NULL,
    tenant_id uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked boolean NOT NULL DEFAULT false
);
CREATE INDEX sessions_actor ON sessions (actor_id) WHERE NOT revoked;
