//! `/service-accounts`: non-human actors and their API keys. Managed with the `users` rights:
//! an account is a user that logs in with a key.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{ActorId, EventId, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::roles::ensure_grantable;
use super::{Page, PageQuery};
use crate::accounts::{self, Check};
use crate::domain::authority::AccountAction;
use crate::domain::service_account::{ServiceAccount, ServiceAccountCommand, ServiceAccountState};
use crate::domain::RoleId;
use crate::state::AppState;
use crate::{error, secrets};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, create_account))
        .routes(routes!(get_account, delete_account))
        .routes(routes!(set_account_roles))
        .routes(routes!(issue_key))
        .routes(routes!(revoke_key))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub key_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ActorId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
    pub keys: Vec<ApiKeyView>,
}

impl ServiceAccountView {
    fn from_state(state: ServiceAccountState) -> Option<Self> {
        let keys = state
            .keys
            .iter()
            .map(|k| ApiKeyView {
                key_id: k.key_id,
                issued_at: k.issued_at,
                revoked: k.revoked,
            })
            .collect();
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id?,
            name: state.name,
            description: state.description,
            roles: state.roles,
            keys,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceAccountRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

/// The new key, shown only in this response.
#[derive(Serialize, ToSchema)]
pub struct IssuedApiKey {
    pub key_id: Uuid,
    pub api_key: String,
}

async fn load_visible(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
) -> Result<ServiceAccountState, ApiError> {
    let account = state
        .store
        .load::<ServiceAccount>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    auth.visible(
        Some(account).filter(ServiceAccountState::is_live),
        |a| a.tenant_id.unwrap_or_default(),
        "service account",
    )
}

async fn run(
    state: &AppState,
    auth: &Auth,
    id: ActorId,
    tenant: TenantId,
    command: ServiceAccountCommand,
) -> Result<(), ApiError> {
    let meta = auth.metadata(tenant, Utc::now());
    state
        .store
        .execute::<ServiceAccount>(&id.to_string(), &meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    Ok(())
}

async fn view(state: &AppState, id: ActorId) -> Result<Json<ServiceAccountView>, ApiError> {
    let account = state
        .store
        .load::<ServiceAccount>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    ServiceAccountView::from_state(account)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such service account"))
}

#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service-accounts", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<ServiceAccountView>), (status = 403, body = ProblemDetails)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ServiceAccountView>>, ApiError> {
    auth.require(Entity::Users, Right::View)?;
    let tenant = auth.scope().filter(None).map(|t| t.0);
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query(
            "SELECT id FROM identity.service_accounts WHERE NOT deleted AND ($1::uuid IS NULL OR tenant_id = $1)
             ORDER BY name, id LIMIT $2 OFFSET $3",
            &[&tenant, &page.fetch(), &page.offset()],
        )
        .await
        .map_err(error::postgres)?;
    drop(client);
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(view(&state, ActorId(row.get(0))).await?.0);
    }
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service-accounts", security(("bearer" = [])), request_body = CreateServiceAccountRequest,
    responses((status = 201, body = ServiceAccountView), (status = 403, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_account(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<CreateServiceAccountRequest>,
) -> Result<(StatusCode, Json<ServiceAccountView>), ApiError> {
    auth.require(Entity::Users, Right::Create)?;
    let tenant = auth.target_tenant(request.tenant_id)?;
    ensure_grantable(&state, &auth, tenant, &request.roles).await?;
    let id = ActorId::new();
    let command = ServiceAccountCommand::CreateServiceAccount {
        account_id: id,
        tenant_id: tenant,
        name: request.name,
        description: request.description,
        roles: request.roles,
    };
    run(&state, &auth, id, tenant, command).await?;
    Ok((StatusCode::CREATED, view(&state, id).await?))
}

#[utoipa::path(get, path = "/api/v1/service-accounts/{id}", tag = "service-accounts", security(("bearer" = [])),
    responses((status = 200, body = ServiceAccountView), (status = 404, body = ProblemDetails)))]
pub async fn get_account(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    auth.require(Entity::Users, Right::View)?;
    let account = load_visible(&state, &auth, id).await?;
    ServiceAccountView::from_state(account)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such service account"))
}

/// Delete a service account; its tokens stop working. Refused for an account holding rights
/// the caller lacks (403 `account_outranks_caller`).
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}", tag = "service-accounts", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn delete_account(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Users, Right::Delete)?;
    let check = Check::Act(AccountAction::Delete);
    let command = ServiceAccountCommand::DeleteServiceAccount;
    accounts::act::<ServiceAccount>(&state, &auth, id, check, command).await?;
    super::user_actions::revoke_sessions(&state, &auth, id, "service_account_deleted").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAccountRolesRequest {
    #[schema(value_type = Vec<String>)]
    pub roles: Vec<RoleId>,
}

/// Set a service account's roles. The caller must hold both the rights the account holds now
/// and the ones the roles grant (403). Tokens with the old rights stop working at once; a new
/// key exchange carries the new rights.
#[utoipa::path(put, path = "/api/v1/service-accounts/{id}/roles", tag = "service-accounts", security(("bearer" = [])), request_body = SetAccountRolesRequest,
    responses((status = 200, body = ServiceAccountView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn set_account_roles(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
    Json(request): Json<SetAccountRolesRequest>,
) -> Result<Json<ServiceAccountView>, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    // The account first (outranked?), then what is granted.
    let account = accounts::authorize::<ServiceAccount>(
        &state,
        &auth,
        id,
        Check::Act(AccountAction::SetRoles),
    )
    .await?;
    let tenant = account.state.tenant_id.unwrap_or_default();
    let granted = ensure_grantable(&state, &auth, tenant, &request.roles).await?;
    let command = ServiceAccountCommand::SetServiceAccountRoles {
        roles: request.roles,
    };
    let check = Check::SetRoles(granted);
    let account = accounts::act::<ServiceAccount>(&state, &auth, id, check, command).await?;
    shown(account)
}

/// Issue a new API key; the key is in this response only. Refused for an account holding
/// rights the caller lacks (403 `account_outranks_caller`).
#[utoipa::path(post, path = "/api/v1/service-accounts/{id}/api-keys", tag = "service-accounts", security(("bearer" = [])),
    responses((status = 201, body = IssuedApiKey), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn issue_key(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ActorId>,
) -> Result<(StatusCode, Json<IssuedApiKey>), ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    let key_id = Uuid::now_v7();
    let (api_key, key_hash) = secrets::api_key(id, key_id);
    let command = ServiceAccountCommand::IssueApiKey {
        key_id,
        key_hash,
        issued_at: Utc::now(),
    };
    let check = Check::Act(AccountAction::IssueApiKey);
    accounts::act::<ServiceAccount>(&state, &auth, id, check, command).await?;
    Ok((StatusCode::CREATED, Json(IssuedApiKey { key_id, api_key })))
}

/// Revoke an API key. Refused for an account holding rights the caller lacks (403
/// `account_outranks_caller`).
#[utoipa::path(delete, path = "/api/v1/service-accounts/{id}/api-keys/{key_id}", tag = "service-accounts", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, key_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Users, Right::Manage)?;
    let check = Check::Act(AccountAction::RevokeApiKey);
    let command = ServiceAccountCommand::RevokeApiKey { key_id };
    accounts::act::<ServiceAccount>(&state, &auth, ActorId(id), check, command).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn shown(account: ServiceAccountState) -> Result<Json<ServiceAccountView>, ApiError> {
    ServiceAccountView::from_state(account)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such service account"))
}

redacted_debug!(IssuedApiKey);
