//! `/projects`: a tenant's projects. Anyone who works with a project's templates, datasets or
//! processes may read projects (to find the one to work in); changing them needs project rights.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{EventId, ProjectId, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sql::Filters;
use super::{load_live, now_meta, precheck, Page, PageQuery};
use crate::domain::project::{Project, ProjectCommand, ProjectState};
use crate::state::AppState;
use crate::unique;

/// Who may read projects.
pub const READERS: &[(Entity, Right)] = &[
    (Entity::Projects, Right::View),
    (Entity::TrainingTemplates, Right::View),
    (Entity::Datasets, Right::View),
    (Entity::TrainingProcesses, Right::View),
];

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, update_project, delete_project))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ProjectId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
}

impl ProjectView {
    fn from_state(state: &ProjectState) -> Option<Self> {
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id,
            name: state.name.clone(),
            description: state.description.clone(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    /// Letters of any script, digits, `-`, `_`, `.`; unique in the tenant (case-insensitive).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Administrators only, on create: the tenant to create it in.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectFilter {
    /// Names starting with this (case-insensitive).
    pub name: Option<String>,
    /// Administrators: only this tenant's projects.
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

/// Loads a live project the caller may see; 404 otherwise.
pub async fn load_project(
    state: &AppState,
    auth: &Auth,
    id: ProjectId,
) -> Result<ProjectState, ApiError> {
    let loaded = load_live::<Project>(state, auth, id, "project", ProjectState::is_live, |p| {
        Some(p.tenant_id)
    })
    .await?;
    Ok(loaded.state)
}

/// A `LIKE` pattern matching names that start with `prefix`, case-insensitively.
pub fn prefix_pattern(prefix: Option<&str>) -> Option<String> {
    prefix.map(|p| {
        let escaped = p
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    })
}

#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), params(PageQuery, ProjectFilter),
    responses((status = 200, body = Page<ProjectView>), (status = 403, body = ProblemDetails)))]
pub async fn list_projects(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ProjectFilter>,
) -> Result<Json<Page<ProjectView>>, ApiError> {
    auth.require_any(READERS)?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let name = prefix_pattern(filter.name.as_deref());
    let mut filters = Filters::default();
    filters
        .when("tenant_id = ?", &tenant)
        .when("lower(name) LIKE ?", &name);
    let columns = "id, tenant_id, name, description";
    let rows = filters
        .fetch_page(
            &state.pool,
            columns,
            "template.projects",
            "lower(name), id",
            &page,
        )
        .await?;
    let items = rows
        .iter()
        .map(|row| ProjectView {
            id: ProjectId(row.get(0)),
            tenant_id: TenantId(row.get(1)),
            name: row.get(2),
            description: row.get(3),
        })
        .collect();
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), request_body = ProjectRequest,
    responses((status = 201, body = ProjectView), (status = 403, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_project(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<ProjectRequest>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    auth.require(Entity::Projects, Right::Create)?;
    let tenant = auth.target_tenant(request.tenant_id)?;
    let id = ProjectId::new();
    let command = ProjectCommand::CreateProject {
        project_id: id,
        tenant_id: tenant,
        name: request.name.clone(),
        description: request.description,
    };
    // Refuse a bad request before the name is reserved, so it changes nothing.
    precheck::<Project>(&ProjectState::default(), &command)?;
    let meta = now_meta(&auth, tenant);
    let key = unique::project_name(tenant, &request.name);
    let owner = id.to_string();
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<Project>(naming, None, key, ProjectState::is_live, command).await?;
    let project = load_project(&state, &auth, id).await?;
    let view = ProjectView::from_state(&project).ok_or_else(gone)?;
    Ok((StatusCode::CREATED, Json(view)))
}

const NAME_TAKEN: (&str, &str, &str) = (
    "project_name_taken",
    "name",
    "a project with this name already exists in the tenant",
);

fn gone() -> ApiError {
    ApiError::not_found("not_found", "no such project")
}

#[utoipa::path(get, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    responses((status = 200, body = ProjectView), (status = 404, body = ProblemDetails)))]
pub async fn get_project(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ProjectId>,
) -> Result<Json<ProjectView>, ApiError> {
    auth.require_any(READERS)?;
    let project = load_project(&state, &auth, id).await?;
    ProjectView::from_state(&project).map(Json).ok_or_else(gone)
}

#[utoipa::path(put, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])), request_body = ProjectRequest,
    responses((status = 200, body = ProjectView), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_project(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ProjectId>,
    Json(request): Json<ProjectRequest>,
) -> Result<Json<ProjectView>, ApiError> {
    auth.require(Entity::Projects, Right::Edit)?;
    let project = load_project(&state, &auth, id).await?;
    let command = ProjectCommand::UpdateProject {
        name: request.name.clone(),
        description: request.description,
    };
    precheck::<Project>(&project, &command)?;
    let meta = now_meta(&auth, project.tenant_id);
    let owner = id.to_string();
    let (from, to) = (
        unique::project_name(project.tenant_id, &project.name),
        unique::project_name(project.tenant_id, &request.name),
    );
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<Project>(naming, Some(from), to, ProjectState::is_live, command)
        .await?;
    let project = load_project(&state, &auth, id).await?;
    ProjectView::from_state(&project).map(Json).ok_or_else(gone)
}

#[utoipa::path(delete, path = "/api/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails)))]
pub async fn delete_project(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ProjectId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Projects, Right::Delete)?;
    let project = load_project(&state, &auth, id).await?;
    ensure_empty(&state, id).await?;
    let meta = now_meta(&auth, project.tenant_id);
    let owner = id.to_string();
    state
        .store
        .execute::<Project>(
            &owner,
            &meta,
            ProjectCommand::DeleteProject,
            &[EventId::new()],
        )
        .await?;
    let key = unique::project_name(project.tenant_id, &project.name);
    unique::free(&state.store, &meta, &key, &owner).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A project still holding templates or datasets is not deleted (checked on the read model).
async fn ensure_empty(state: &AppState, id: ProjectId) -> Result<(), ApiError> {
    let client = state.pool.get().await.map_err(ApiError::unavailable)?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM template.templates WHERE project_id = $1)
                  + (SELECT count(*) FROM template.datasets WHERE project_id = $1)",
            &[&id.0],
        )
        .await
        .map_err(ApiError::unavailable)?;
    let held: i64 = row.get(0);
    if held == 0 {
        return Ok(());
    }
    Err(ApiError::Conflict(Rejection::conflict(
        "project_not_empty",
        format!("the project still holds {held} template(s) or dataset(s); delete them first"),
    )))
}
