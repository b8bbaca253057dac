//! `/tenants`: the isolation units; `Administrator` only.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use trainyard_auth::Auth;
use trainyard_core::{EventId, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{Page, PageQuery};
use crate::domain::check_name;
use crate::domain::tenant::{Tenant, TenantCommand};
use crate::state::AppState;
use crate::{error, unique};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    #[schema(value_type = String, format = Uuid)]
    pub id: TenantId,
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    pub name: String,
}

/// Creates tenant `name` with `id`; used by the API and by the bootstrap.
pub async fn create(
    state: &AppState,
    meta: &trainyard_core::Metadata,
    id: TenantId,
    name: String,
) -> Result<(), ApiError> {
    check_name("name", &name)?;
    let key = unique::tenant_name(&name);
    state
        .store
        .reserve(meta, EventId::new(), &key, &id.to_string())
        .await
        .map_err(|e| {
            error::reservation(
                e,
                "tenant_name_taken",
                "name",
                "a tenant with this name exists",
            )
        })?;
    let command = TenantCommand::CreateTenant {
        tenant_id: id,
        name,
    };
    state
        .store
        .execute::<Tenant>(&id.to_string(), meta, command, &[EventId::new()])
        .await
        .map_err(error::execute)?;
    Ok(())
}

#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<TenantView>), (status = 403, body = ProblemDetails)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<TenantView>>, ApiError> {
    auth.require_administrator()?;
    let client = state.pool.get().await.map_err(error::postgres)?;
    let rows = client
        .query(
            "SELECT id, name FROM identity.tenants ORDER BY name, id LIMIT $1 OFFSET $2",
            &[&page.fetch(), &page.offset()],
        )
        .await
        .map_err(error::postgres)?;
    let items = rows
        .iter()
        .map(|r| TenantView {
            id: TenantId(r.get(0)),
            name: r.get(1),
        })
        .collect();
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", security(("bearer" = [])), request_body = CreateTenantRequest,
    responses((status = 201, body = TenantView), (status = 409, body = ProblemDetails)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<CreateTenantRequest>,
) -> Result<(StatusCode, Json<TenantView>), ApiError> {
    auth.require_administrator()?;
    let id = TenantId::new();
    create(
        &state,
        &auth.metadata(id, Utc::now()),
        id,
        request.name.clone(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantView {
            id,
            name: request.name,
        }),
    ))
}

#[utoipa::path(get, path = "/api/v1/tenants/{id}", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = TenantView), (status = 404, body = ProblemDetails)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TenantId>,
) -> Result<Json<TenantView>, ApiError> {
    auth.require_administrator()?;
    let tenant = state
        .store
        .load::<Tenant>(&id.to_string())
        .await
        .map_err(error::read)?
        .state;
    match tenant.id {
        Some(id) => Ok(Json(TenantView {
            id,
            name: tenant.name,
        })),
        None => Err(ApiError::not_found("not_found", "no such tenant")),
    }
}
