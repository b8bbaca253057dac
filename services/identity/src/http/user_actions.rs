//! `/users/{id}/…` actions: block and unblock, set roles, change or reset a password, and the
//! session revocation that blocking and deleting trigger.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{ActorId, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roles::ensure_grantable;
use super::users::{load_visible, run, UserView};
use crate::accounts::{self, Check};
use crate::domain::authority::AccountAction;
use crate::domain::user::{check_password_policy, User, UserCommand, UserState};
use crate::domain::RoleId;
use crate::state::AppState;
use crate::{error, password};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(block_user))
        .routes(routes!(unblock_user))
        .routes(routes!(set_roles))
        .routes(routes!(change_password))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
}

/// No `Debug`: carries passwords.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Required when changing one's own password.
    pub current_password: Option<String>,
    pub new_password: String,
}

/// Block a user: its sessions end and its tokens stop working. Refused for one's own account
/// (422 `cannot_block_self`), for an account holding rights the caller lacks (403
/// `account_outranks_caller`) and for the last administrator of its tenant or of the
/// installation (409).
#[utoipa::path(post, path = "/api/v1/users/{id}/block", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn block_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    let check = Check::Act(AccountAction::Block);
    let user = accounts::act::<User>(&state, &auth, id, check, UserCommand::BlockUser).await?;
    revoke_sessions(&state, &auth, id, "user_blocked").await?;
    shown(user)
}

#[utoipa::path(post, path = "/api/v1/users/{id}/unblock", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn unblock_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    let check = Check::Act(AccountAction::Unblock);
    let user = accounts::act::<User>(&state, &auth, id, check, UserCommand::UnblockUser).await?;
    shown(user)
}

/// Set a user's roles. The caller must hold both the rights the user holds now and the ones
/// the roles grant (403 `account_outranks_caller`, `rights_not_held`,
/// `administrator_role_reserved`); nobody demotes themselves (422 `cannot_demote_self`) or the
/// last administrator (409). The user's tokens with the old rights stop working at once.
#[utoipa::path(put, path = "/api/v1/users/{id}/roles", tag = "users", security(("bearer" = [])), request_body = SetRolesRequest,
    responses((status = 200, body = UserView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn set_roles(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
    Json(request): Json<SetRolesRequest>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    // The account first (outranked?), then what is granted.
    let user =
        accounts::authorize::<User>(&state, &auth, id, Check::Act(AccountAction::SetRoles)).await?;
    let tenant = user.state.tenant_id.unwrap_or_default();
    let granted = ensure_grantable(&state, &auth, tenant, &request.roles).await?;
    let command = UserCommand::SetRoles {
        roles: request.roles,
    };
    let user = accounts::act::<User>(&state, &auth, id, Check::SetRoles(granted), command).await?;
    shown(user)
}

/// Change one's own password (with the current one), or reset another user's (`users:manage`,
/// and every right the user holds: 403 `account_outranks_caller`); a reset user must change
/// the password at next login, and its sessions end.
#[utoipa::path(post, path = "/api/v1/users/{id}/password", tag = "users", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
    Json(request): Json<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let own = id == auth.actor().id;
    let check = Check::Act(AccountAction::ResetPassword);
    if own {
        load_visible(&state, &auth, id).await?;
    } else {
        auth.require(Entity::Users, Right::Manage)?;
        accounts::authorize::<User>(&state, &auth, id, check).await?;
    }
    check_password_policy("new_password", &request.new_password)?;
    if own {
        let current = request.current_password.unwrap_or_default();
        let stored = password::load_hash(&state.pool, id)
            .await
            .map_err(error::password)?;
        if !state
            .hasher
            .verify(current, stored)
            .await
            .map_err(error::password)?
        {
            return Err(
                Rejection::new("wrong_password", "the current password is wrong")
                    .field("current_password")
                    .into(),
            );
        }
    }
    let hash = state
        .hasher
        .hash(request.new_password)
        .await
        .map_err(error::password)?;
    password::store_hash(&state.pool, id, &hash)
        .await
        .map_err(error::password)?;
    let command = UserCommand::ChangePassword {
        must_change_password: !own,
    };
    if own {
        let user = load_visible(&state, &auth, id).await?;
        run(
            &state,
            &auth,
            id,
            user.tenant_id.unwrap_or_default(),
            command,
        )
        .await?;
    } else {
        accounts::act::<User>(&state, &auth, id, check, command).await?;
        revoke_sessions(&state, &auth, id, "password_reset").await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn shown(user: UserState) -> Result<Json<UserView>, ApiError> {
    UserView::from_state(user)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such user"))
}

/// Revokes the actor's open sessions known to the read model; sessions it has not seen yet are
/// stopped at their next refresh, which re-checks the account.
pub async fn revoke_sessions(
    state: &AppState,
    auth: &Auth,
    actor: ActorId,
    reason: &str,
) -> Result<(), ApiError> {
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query("SELECT id, tenant_id FROM identity.sessions WHERE actor_id = $1 AND NOT revoked AND expires_at > $2", &[&actor.0, &Utc::now()])
        .await
        .map_err(error::postgres)?;
    drop(client);
    for row in rows {
        crate::issue::revoke(
            state,
            row.get(0),
            None,
            auth.actor(),
            TenantId(row.get(1)),
            reason,
        )
        .await?;
    }
    Ok(())
}

redacted_debug!(ChangePasswordRequest);
