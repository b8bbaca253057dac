//! `/users`: create, read, list, edit, delete, block/unblock, set roles, change password.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{ActorId, EventId, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::roles::ensure_grantable;
use super::{Page, PageQuery};
use crate::accounts::{self, Check};
use crate::domain::authority::AccountAction;
use crate::domain::user::{check_login, check_password_policy, User, UserCommand, UserState};
use crate::domain::RoleId;
use crate::state::AppState;
use crate::{error, password, unique};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ActorId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub login: String,
    pub display_name: String,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
    pub blocked: bool,
    pub must_change_password: bool,
}

impl UserView {
    pub(super) fn from_state(state: UserState) -> Option<Self> {
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id?,
            login: state.login,
            display_name: state.display_name,
            roles: state.roles,
            blocked: state.blocked,
            must_change_password: state.must_change_password,
        })
    }
}

/// No `Debug`: carries a password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub login: String,
    #[serde(default)]
    pub display_name: String,
    pub password: String,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
    /// Defaults to true: an account created by someone else starts with a password to replace.
    pub must_change_password: Option<bool>,
    /// Administrators only; the caller's tenant otherwise.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Logins starting with this (case-insensitive).
    pub login: Option<String>,
    pub blocked: Option<bool>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub role_id: Option<RoleId>,
    /// Administrators only.
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

pub(super) async fn load_visible(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
) -> Result<UserState, ApiError> {
    let user = state
        .store
        .load::<User>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    let user = Some(user).filter(UserState::is_live);
    auth.visible(user, |u| u.tenant_id.unwrap_or_default(), "user")
}

pub(super) async fn run(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
    tenant: TenantId,
    command: UserCommand,
) -> Result<(), ApiError> {
    let meta = auth.metadata(tenant, Utc::now());
    state
        .store
        .execute::<User>(&id.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    Ok(())
}

pub(super) async fn view(state: &AppState, id: ActorId) -> Result<Json<UserView>, ApiError> {
    let user = state
        .store
        .load::<User>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    UserView::from_state(user)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such user"))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), params(PageQuery, UserFilter),
    responses((status = 200, body = Page<UserView>), (status = 403, body = ProblemDetails)))]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<UserFilter>,
) -> Result<Json<Page<UserView>>, ApiError> {
    auth.require(Entity::Users, Right::View)?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let login = filter.login.map(|l| {
        format!(
            "{}%",
            l.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        )
    });
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query(
            "SELECT id, tenant_id, login, display_name, roles, blocked, must_change_password FROM identity.users
             WHERE NOT deleted AND ($1::uuid IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR lower(login) LIKE $2)
               AND ($3::bool IS NULL OR blocked = $3) AND ($4::uuid IS NULL OR $4 = ANY(roles))
             ORDER BY login, id LIMIT $5 OFFSET $6",
            &[&tenant, &login, &filter.blocked, &filter.role_id.map(|r| r.0), &page.fetch(), &page.offset()],
        )
        .await
        .map_err(error::postgres)?;
    let items = rows
        .iter()
        .map(|r| UserView {
            id: ActorId(r.get(0)),
            tenant_id: TenantId(r.get(1)),
            login: r.get(2),
            display_name: r.get(3),
            roles: r
                .get::<_, Vec<uuid::Uuid>>(4)
                .into_iter()
                .map(RoleId)
                .collect(),
            blocked: r.get(5),
            must_change_password: r.get(6),
        })
        .collect();
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    auth.require(Entity::Users, Right::Create)?;
    let tenant = auth.target_tenant(request.tenant_id)?;
    check_login(&request.login)?;
    check_password_policy("password", &request.password)?;
    ensure_grantable(&state, &auth, tenant, &request.roles).await?;
    let id = ActorId::new();
    let meta = auth.metadata(tenant, Utc::now());
    let key = unique::login(tenant, &request.login);
    state
        .store
        .reserve(&meta, EventId::new(), &key, &id.to_string())
        .await
        .map_err(|e| {
            error::reservation(
                e,
                "login_taken",
                "login",
                "this login is already taken in the tenant",
            )
        })?;
    let created = create(&state, &auth, id, tenant, request).await;
    if created.is_err() {
        if let Err(release) = state
            .store
            .release(&meta, EventId::new(), &key, &id.to_string())
            .await
        {
            tracing::error!(error = %release, "cannot release the login of a user that was not created");
        }
    }
    created?;
    Ok((StatusCode::CREATED, view(&state, id).await?))
}

async fn create(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
    tenant: TenantId,
    request: CreateUserRequest,
) -> Result<(), ApiError> {
    let hash = state
        .hasher
        .hash(request.password)
        .await
        .map_err(error::password)?;
    password::store_hash(&state.pool, id, &hash)
        .await
        .map_err(error::password)?;
    let command = UserCommand::CreateUser {
        user_id: id,
        tenant_id: tenant,
        login: request.login,
        display_name: request.display_name,
        roles: request.roles,
        must_change_password: request.must_change_password.unwrap_or(true),
    };
    run(state, auth, id, tenant, command).await
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 404, body = ProblemDetails)))]
pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(Entity::Users, Right::View)?;
    let user = load_visible(&state, &auth, id).await?;
    UserView::from_state(user)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such user"))
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
    Json(request): Json<UpdateUserRequest>,
) -> Result<Json<UserView>, ApiError> {
    auth.require(Entity::Users, Right::Edit)?;
    let command = UserCommand::UpdateUser {
        display_name: request.display_name,
    };
    let user =
        accounts::act::<User>(&state, &auth, id, Check::Act(AccountAction::Edit), command).await?;
    UserView::from_state(user)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such user"))
}

/// Delete a user. Refused for one's own account (422 `cannot_delete_self`), for an account
/// holding rights the caller lacks (403 `account_outranks_caller`) and for the last
/// administrator of its tenant or of the installation (409).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Users, Right::Delete)?;
    let check = Check::Act(AccountAction::Delete);
    let user = accounts::act::<User>(&state, &auth, id, check, UserCommand::DeleteUser).await?;
    let tenant = user.tenant_id.unwrap_or_default();
    super::user_actions::revoke_sessions(&state, &auth, id, "user_deleted").await?;
    // The login becomes free for a new account.
    let meta = auth.metadata(tenant, Utc::now());
    state
        .store
        .release(
            &meta,
            EventId::new(),
            &unique::login(tenant, &user.login),
            &id.to_string(),
        )
        .await
        .map_err(|e| error::reservation(e, "login_taken", "login", "login release failed"))?;
    Ok(StatusCode::NO_CONTENT)
}

redacted_debug!(CreateUserRequest);
