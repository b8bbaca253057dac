//! Rows of schema `identity`, fed by `evt.identity.>`. Single-aggregate reads go to the event
//! store (always current); these tables serve lists and filters, and the open sessions a block
//! must revoke.

use trainyard_core::{Aggregate, StoredEvent};
use trainyard_platform::postgres::{Migration, Transaction};
use trainyard_platform::projection::{ApplyError, Projection};

use crate::domain::role::{Role, RoleEvent};
use crate::domain::service_account::{ServiceAccount, ServiceAccountEvent};
use crate::domain::session::{Session, SessionEvent};
use crate::domain::tenant::{Tenant, TenantEvent};
use crate::domain::user::{User, UserEvent};

const MIGRATIONS: &[Migration] = &[Migration::new(
    1,
    "identity_read_model",
    include_str!("../migrations/0001_identity.sql"),
)];

#[derive(Debug, Clone)]
pub struct IdentityProjection {
    pub events_root: String,
}

impl Projection for IdentityProjection {
    fn name(&self) -> &str {
        "identity"
    }

    fn schema(&self) -> &str {
        "identity"
    }

    fn filter_subjects(&self) -> Vec<String> {
        vec![format!("{}.identity.>", self.events_root)]
    }

    fn migrations(&self) -> &[Migration] {
        MIGRATIONS
    }

    async fn apply(&self, tx: &Transaction<'_>, event: &StoredEvent) -> Result<(), ApplyError> {
        let envelope = &event.envelope;
        let at = envelope.occurred_at;
        let id = envelope.aggregate_id.as_str();
        let kind = envelope.aggregate_type.as_str();
        if kind == Tenant::aggregate_type() {
            let TenantEvent::TenantCreated { tenant_id, name } = envelope.decode()?;
            tx.execute("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &[&tenant_id.0, &name, &at]).await?;
        } else if kind == User::aggregate_type() {
            user(tx, id, envelope.decode()?, at).await?;
        } else if kind == Role::aggregate_type() {
            role(tx, id, envelope.decode()?, at).await?;
        } else if kind == ServiceAccount::aggregate_type() {
            account(tx, id, envelope.decode()?, at).await?;
        } else if kind == Session::aggregate_type() {
            session(tx, id, envelope.decode()?).await?;
        }
        Ok(())
    }
}

fn uuid(id: &str) -> Result<uuid::Uuid, ApplyError> {
    uuid::Uuid::parse_str(id).map_err(|e| ApplyError::Invalid(format!("aggregate id `{id}`: {e}")))
}

type At = chrono::DateTime<chrono::Utc>;

async fn user(tx: &Transaction<'_>, id: &str, event: UserEvent, at: At) -> Result<(), ApplyError> {
    let id = uuid(id)?;
    let set = |sql: &'static str| format!("UPDATE users SET {sql}, updated_at = $2 WHERE id = $1");
    match event {
        UserEvent::UserCreated {
            tenant_id,
            login,
            display_name,
            roles,
            must_change_password,
            ..
        } => {
            let roles: Vec<uuid::Uuid> = roles.iter().map(|r| r.0).collect();
            tx.execute(
                "INSERT INTO users (id, tenant_id, login, display_name, roles, must_change_password, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING",
                &[&id, &tenant_id.0, &login, &display_name, &roles, &must_change_password, &at],
            )
            .await?;
        }
        UserEvent::UserUpdated { display_name } => {
            tx.execute(&set("display_name = $3"), &[&id, &at, &display_name])
                .await?;
        }
        UserEvent::UserPasswordChanged {
            must_change_password,
        } => {
            tx.execute(
                &set("must_change_password = $3"),
                &[&id, &at, &must_change_password],
            )
            .await?;
        }
        UserEvent::UserRolesSet { roles } => {
            let roles: Vec<uuid::Uuid> = roles.iter().map(|r| r.0).collect();
            tx.execute(&set("roles = $3"), &[&id, &at, &roles]).await?;
        }
        UserEvent::UserBlocked => {
            tx.execute(&set("blocked = true"), &[&id, &at]).await?;
        }
        UserEvent::UserUnblocked => {
            tx.execute(&set("blocked = false"), &[&id, &at]).await?;
        }
        UserEvent::UserDeleted => {
            tx.execute(&set("deleted = true"), &[&id, &at]).await?;
        }
    }
    Ok(())
}

async fn role(tx: &Transaction<'_>, id: &str, event: RoleEvent, at: At) -> Result<(), ApplyError> {
    let id = uuid(id)?;
    match event {
        RoleEvent::RoleCreated {
            tenant_id,
            name,
            description,
            permissions,
            ..
        } => {
            let permissions = serde_json::to_value(permissions)?;
            tx.execute(
                "INSERT INTO roles (id, tenant_id, name, description, permissions, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&id, &tenant_id.0, &name, &description, &permissions, &at],
            )
            .await?;
        }
        RoleEvent::RoleUpdated {
            name,
            description,
            permissions,
        } => {
            let permissions = serde_json::to_value(permissions)?;
            tx.execute(
                "UPDATE roles SET name = $2, description = $3, permissions = $4 WHERE id = $1",
                &[&id, &name, &description, &permissions],
            )
            .await?;
        }
        RoleEvent::RoleDeleted => {
            tx.execute("UPDATE roles SET deleted = true WHERE id = $1", &[&id])
                .await?;
        }
    }
    Ok(())
}

async fn account(
    tx: &Transaction<'_>,
    id: &str,
    event: ServiceAccountEvent,
    at: At,
) -> Result<(), ApplyError> {
    let id = uuid(id)?;
    match event {
        ServiceAccountEvent::ServiceAccountCreated {
            tenant_id, name, ..
        } => {
            tx.execute(
                "INSERT INTO service_accounts (id, tenant_id, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&id, &tenant_id.0, &name, &at],
            )
            .await?;
        }
        ServiceAccountEvent::ServiceAccountDeleted => {
            tx.execute(
                "UPDATE service_accounts SET deleted = true WHERE id = $1",
                &[&id],
            )
            .await?;
        }
        // Keys and roles are read from the aggregate itself.
        ServiceAccountEvent::ServiceAccountRolesSet { .. }
        | ServiceAccountEvent::ApiKeyIssued { .. }
        | ServiceAccountEvent::ApiKeyRevoked { .. } => {}
    }
    Ok(())
}

async fn session(tx: &Transaction<'_>, id: &str, event: SessionEvent) -> Result<(), ApplyError> {
    let id = uuid(id)?;
    match event {
        SessionEvent::SessionStarted {
            actor_id,
            tenant_id,
            expires_at,
            ..
        } => {
            tx.execute(
                "INSERT INTO sessions (id, actor_id, tenant_id, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&id, &actor_id.0, &tenant_id.0, &expires_at],
            )
            .await?;
        }
        SessionEvent::SessionRevoked { .. } => {
            tx.execute("UPDATE sessions SET revoked = true WHERE id = $1", &[&id])
                .await?;
        }
        SessionEvent::SessionRefreshed { .. } => {}
    }
    Ok(())
}
