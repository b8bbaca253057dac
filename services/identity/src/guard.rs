//! Passing the administrator guard (`domain::administrators`): gathers the scope's other
//! administrators, each read from its own aggregate, and admits the removal through the guard
//! aggregate. The read model only says where to look: it is first allowed to catch up with the
//! log as it stood when the decision began, so no administrator is missed for lag (one
//! appointed meanwhile may be missed, which can only refuse a removal); a removed one is never
//! counted, because its aggregate says so.

use std::time::{Duration, Instant};

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
/// How long a removal waits for the read model to catch up before answering 503.
const CATCH_UP: Duration = Duration::from_secs(10);

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
    caught_up(state).await?;
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

/// Waits until the read model has applied every identity event stored before this call.
async fn caught_up(state: &AppState) -> Result<(), ApiError> {
    let lagging = |e| ApiError::unavailable(anyhow::anyhow!("identity read model: {e}"));
    let first = state.read_model.lag().await.map_err(lagging)?;
    let target = first.stream_last_sequence;
    let deadline = Instant::now() + CATCH_UP;
    let mut lag = first;
    while lag.pending_events > 0 && lag.checkpoint < target {
        if Instant::now() >= deadline {
            return Err(ApiError::unavailable(anyhow::anyhow!(
                "the identity read model is {} events behind",
                lag.pending_events
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        lag = state.read_model.lag().await.map_err(lagging)?;
    }
    Ok(())
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
