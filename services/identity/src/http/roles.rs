//! `/roles`: the built-in roles (read-only) and a tenant's own roles.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Permission, Right, Rights};
use trainyard_core::{EventId, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageQuery};
use crate::domain::authority::{may_grant, Standing};
use crate::domain::role::{Role, RoleCommand, RoleState};
use crate::domain::{BuiltinRole, RoleId};
use crate::state::AppState;
use crate::{accounts, error, issue};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roles, create_role))
        .routes(routes!(get_role, update_role, delete_role))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(value_type = String, format = Uuid)]
    pub id: RoleId,
    /// Absent for built-in roles, which exist in every tenant.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
    pub name: String,
    pub description: String,
    #[schema(value_type = Vec<Object>)]
    pub permissions: Vec<Permission>,
    pub builtin: bool,
}

impl RoleView {
    fn builtin(role: BuiltinRole) -> Self {
        let description = match role {
            BuiltinRole::Administrator => "every right in every tenant, and the tenants themselves",
            BuiltinRole::TenantAdministrator => "every right in its own tenant",
        };
        Self {
            id: role.id(),
            tenant_id: None,
            name: role.name().into(),
            description: description.into(),
            permissions: Rights::all().permissions(),
            builtin: true,
        }
    }

    fn from_state(state: RoleState) -> Option<Self> {
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id,
            name: state.name,
            description: state.description,
            permissions: state.permissions,
            builtin: false,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[schema(value_type = Vec<Object>)]
    pub permissions: Vec<Permission>,
    /// Administrators only (on create).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RoleFilter {
    /// Names starting with this (case-insensitive).
    pub name: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

/// What `roles` would make their holder, refused unless every role exists in the tenant (or is
/// built in) and the caller may hand it out (`domain::authority::may_grant`).
pub async fn ensure_grantable(
    state: &AppState,
    auth: &Auth,
    tenant: TenantId,
    roles: &[RoleId],
) -> Result<Standing, ApiError> {
    for role in roles {
        if BuiltinRole::from_id(*role).is_none() {
            let loaded = state
                .store
                .load::<Role>(&role.to_string())
                .await
                .map_err(error::read)?
                .state;
            if !loaded.is_live() || loaded.tenant_id != Some(tenant) {
                return Err(Rejection::new(
                    "unknown_role",
                    format!("role {role} does not exist in the tenant"),
                )
                .field("roles")
                .into());
            }
        }
    }
    let granted = accounts::standing(state, tenant, roles).await?;
    may_grant(&accounts::caller(auth), &granted, "roles")?;
    Ok(granted)
}

/// A role's holders get its rights: whoever defines them must hold them.
fn ensure_within(auth: &Auth, rights: Rights) -> Result<(), ApiError> {
    let standing = Standing {
        rights,
        ..Standing::default()
    };
    Ok(may_grant(
        &accounts::caller(auth),
        &standing,
        "permissions",
    )?)
}

async fn load_visible(state: &AppState, auth: &Auth, id: RoleId) -> Result<RoleState, ApiError> {
    let role = state
        .store
        .load::<Role>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    auth.visible(
        Some(role).filter(RoleState::is_live),
        |r| r.tenant_id.unwrap_or_default(),
        "role",
    )
}

fn immutable() -> ApiError {
    Rejection::new(
        "builtin_role_immutable",
        "built-in roles cannot be changed or deleted",
    )
    .into()
}

async fn run(
    state: &AppState,
    auth: &Auth,
    id: RoleId,
    tenant: TenantId,
    command: RoleCommand,
) -> Result<Json<RoleView>, ApiError> {
    let meta = auth.metadata(tenant, Utc::now());
    let stored = state
        .store
        .execute::<Role>(&id.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    // Holders' tokens computed from the old rights stop working here at once.
    issue::apply_locally(state, &stored);
    let role = state
        .store
        .load::<Role>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    RoleView::from_state(role)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such role"))
}

#[utoipa::path(get, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), params(PageQuery, RoleFilter),
    responses((status = 200, body = Page<RoleView>), (status = 403, body = ProblemDetails)))]
pub async fn list_roles(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<RoleFilter>,
) -> Result<Json<Page<RoleView>>, ApiError> {
    auth.require(Entity::Roles, Right::View)?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let prefix = filter.name.as_deref().map(str::to_lowercase);
    let mut items: Vec<RoleView> = BuiltinRole::ALL
        .into_iter()
        .map(RoleView::builtin)
        .filter(|r| {
            prefix
                .as_deref()
                .is_none_or(|p| r.name.to_lowercase().starts_with(p))
        })
        .collect();
    let builtins = i64::try_from(items.len()).unwrap_or(0);
    let client = state.pool.get().await.map_err(error::postgres)?;
    let pattern = prefix.map(|p| format!("{}%", p.replace('%', "\\%").replace('_', "\\_")));
    let rows = client
        .query(
            "SELECT id, tenant_id, name, description, permissions FROM identity.roles
             WHERE NOT deleted AND ($1::uuid IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR lower(name) LIKE $2)
             ORDER BY name, id LIMIT $3 OFFSET $4",
            &[&tenant, &pattern, &page.fetch(), &(page.offset() - builtins).max(0)],
        )
        .await
        .map_err(error::postgres)?;
    items.drain(..usize::try_from(page.offset()).unwrap_or(0).min(items.len()));
    for row in rows {
        let permissions: serde_json::Value = row.get(4);
        items.push(RoleView {
            id: RoleId(row.get(0)),
            tenant_id: Some(TenantId(row.get(1))),
            name: row.get(2),
            description: row.get(3),
            permissions: serde_json::from_value(permissions).map_err(ApiError::internal)?,
            builtin: false,
        });
    }
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/roles", tag = "roles", security(("bearer" = [])), request_body = RoleRequest,
    responses((status = 201, body = RoleView), (status = 403, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_role(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<RoleRequest>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    auth.require(Entity::Roles, Right::Create)?;
    let tenant = auth.target_tenant(request.tenant_id)?;
    ensure_within(&auth, Rights::from_permissions(&request.permissions))?;
    let id = RoleId::new();
    let command = RoleCommand::CreateRole {
        role_id: id,
        tenant_id: tenant,
        name: request.name,
        description: request.description,
        permissions: request.permissions,
    };
    Ok((
        StatusCode::CREATED,
        run(&state, &auth, id, tenant, command).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])),
    responses((status = 200, body = RoleView), (status = 404, body = ProblemDetails)))]
pub async fn get_role(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<RoleId>,
) -> Result<Json<RoleView>, ApiError> {
    auth.require(Entity::Roles, Right::View)?;
    if let Some(builtin) = BuiltinRole::from_id(id) {
        return Ok(Json(RoleView::builtin(builtin)));
    }
    let role = load_visible(&state, &auth, id).await?;
    RoleView::from_state(role)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such role"))
}

/// Edit a tenant's role. Tokens of its holders computed from the old rights stop working at
/// once; their next refresh carries the new rights.
#[utoipa::path(put, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])), request_body = RoleRequest,
    responses((status = 200, body = RoleView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_role(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<RoleId>,
    Json(request): Json<RoleRequest>,
) -> Result<Json<RoleView>, ApiError> {
    auth.require(Entity::Roles, Right::Edit)?;
    if BuiltinRole::from_id(id).is_some() {
        return Err(immutable());
    }
    let role = load_visible(&state, &auth, id).await?;
    // Both what the role grants now and what it will grant: nobody takes away what they lack.
    ensure_within(&auth, role.rights())?;
    ensure_within(&auth, Rights::from_permissions(&request.permissions))?;
    let command = RoleCommand::UpdateRole {
        name: request.name,
        description: request.description,
        permissions: request.permissions,
    };
    run(
        &state,
        &auth,
        id,
        role.tenant_id.unwrap_or_default(),
        command,
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/roles/{id}", tag = "roles", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn delete_role(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<RoleId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Roles, Right::Delete)?;
    if BuiltinRole::from_id(id).is_some() {
        return Err(immutable());
    }
    let role = load_visible(&state, &auth, id).await?;
    ensure_within(&auth, role.rights())?;
    let meta = auth.metadata(role.tenant_id.unwrap_or_default(), Utc::now());
    let stored = state
        .store
        .execute::<Role>(
            &id.to_string(),
            &meta,
            RoleCommand::DeleteRole,
            &[EventId::new()],
        )
        .await
        .map_err(error::execute)?;
    issue::apply_locally(&state, &stored);
    Ok(StatusCode::NO_CONTENT)
}
