//! Passing the administrator guard (`domain::administrators`): gathers the scope's other
//! administrators, each read from its own aggregate (the read model only says where to look, so
//! its lag can hide a new administrator, which refuses a removal, but never counts a removed
//! one), and admits the removal through the guard aggregate.

use trainyard_core::{ActorId, EventId, Metadata, TenantId};
use trainyard_platform::http::ApiError;
use uuid::Uuid;

use crate::domain::administrators::{AdministratorGuard, GuardCommand, Others, GUARD_ID};
use crate::domain::authority::{administers, Administers};
use crate::domain::user::User;
use crate::domain::BuiltinRole;
use crate::error;
use crate::state::AppState;

/// How many other administrators are read at most; one that still counts is enough.
const MAX_OTHERS: i64 = 100;

/// Admits the removal of `user` (at `version`) from what `lost` names, or refuses it with 409
/// `last_tenant_administrator` / `last_installation_administrator`.
pub async fn admit(
    state: &AppState,
    meta: &Metadata,
    user: ActorId,
    version: u64,
    lost: Administers,
) -> Result<(), ApiError> {
    let tenant = meta.tenant_id;
    let command = GuardCommand::AdmitRemoval {
        user_id: user,
        tenant_id: tenant,
        user_version: version,
        tenant: if lost.tenant {
            Some(others(state, Some(tenant), user).await?)
        } else {
            None
        },
        installation: if lost.installation {
            Some(others(state, None, user).await?)
        } else {
            None
        },
    };
    state
        .store
        .execute::<AdministratorGuard>(GUARD_ID, meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    Ok(())
}

/// The removal admitted for `user` at `version` did not happen: it stops counting. Best effort;
/// if this fails too, the entry stops counting as soon as the user's account changes again.
pub async fn withdraw(state: &AppState, meta: &Metadata, user: ActorId, version: u64) {
    let command = GuardCommand::WithdrawRemoval {
        user_id: user,
        user_version: version,
    };
    if let Err(error) = state
        .store
        .execute::<AdministratorGuard>(GUARD_ID, meta, command, &[EventId::new()])
        .await
    {
        tracing::error!(%error, %user, "cannot withdraw an administrator removal that did not happen");
    }
}

/// The administrators of `tenant` (or, for `None`, of the installation) other than `except`,
/// with the version each was read at.
async fn others(
    state: &AppState,
    tenant: Option<TenantId>,
    except: ActorId,
) -> Result<Others, ApiError> {
    let roles: Vec<Uuid> = match tenant {
        Some(_) => vec![
            BuiltinRole::TenantAdministrator.id().0,
            BuiltinRole::Administrator.id().0,
        ],
        None => vec![BuiltinRole::Administrator.id().0],
    };
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query(
            "SELECT id FROM identity.users WHERE NOT deleted AND NOT blocked AND roles && $1
               AND ($2::uuid IS NULL OR tenant_id = $2) AND id <> $3 ORDER BY id LIMIT $4",
            &[&roles, &tenant.map(|t| t.0), &except.0, &MAX_OTHERS],
        )
        .await
        .map_err(error::postgres)?;
    drop(client);
    let mut others = Vec::new();
    for row in rows {
        let id = ActorId(row.get(0));
        let loaded = state
            .store
            .load::<User>(&id.to_string())
            .await
            .map_err(error::read)?;
        let now = administers(&loaded.state);
        let counts = match tenant {
            Some(t) => now.tenant && loaded.state.tenant_id == Some(t),
            None => now.installation,
        };
        if counts {
            others.push((id, loaded.last_sequence));
        }
    }
    Ok(others)
}
