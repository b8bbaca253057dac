//! Datasets themselves: list, create (the name reserved in the project), read, rename, delete
//! (with their archives).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{DatasetId, EventId, ProjectId, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};

use super::{
    gone, load_dataset, parse_status, status_named, DatasetChange, DatasetFilter, DatasetView,
    NewDataset,
};
use crate::archive::remove_objects;
use crate::domain::dataset::{Dataset, DatasetCommand, DatasetState};
use crate::http::projects::{load_project, prefix_pattern};
use crate::http::sql::Filters;
use crate::http::{now_meta, precheck, Page, PageQuery};
use crate::state::AppState;
use crate::unique;

#[utoipa::path(get, path = "/api/v1/datasets", tag = "datasets", security(("bearer" = [])), params(PageQuery, DatasetFilter),
    responses((status = 200, body = Page<DatasetView>), (status = 403, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn list_datasets(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<DatasetFilter>,
) -> Result<Json<Page<DatasetView>>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let status = parse_status(filter.status.as_deref())?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let project = filter.project_id.map(|p| p.0);
    let name = prefix_pattern(filter.name.as_deref());
    let mut filters = Filters::default();
    filters
        .when("tenant_id = ?", &tenant)
        .when("project_id = ?", &project)
        .when("lower(name) LIKE ?", &name)
        .when("latest_status = ?", &status);
    let columns =
        "id, tenant_id, project_id, name, description, latest_version, latest_status, templates";
    let rows = filters
        .fetch_page(
            &state.pool,
            columns,
            "template.datasets",
            "lower(name), id",
            &page,
        )
        .await?;
    let items = rows
        .iter()
        .map(|row| {
            let latest: i32 = row.get(5);
            let status: Option<String> = row.get(6);
            let templates: i32 = row.get(7);
            DatasetView {
                id: DatasetId(row.get(0)),
                tenant_id: TenantId(row.get(1)),
                project_id: ProjectId(row.get(2)),
                name: row.get(3),
                description: row.get(4),
                latest_version: u32::try_from(latest).ok().filter(|v| *v > 0),
                latest_status: status.as_deref().and_then(status_named),
                templates: u64::try_from(templates).unwrap_or(0),
            }
        })
        .collect();
    Ok(Json(page.page(items)))
}

const NAME_TAKEN: (&str, &str, &str) = (
    "dataset_name_taken",
    "name",
    "a dataset with this name already exists in the project",
);

#[utoipa::path(post, path = "/api/v1/datasets", tag = "datasets", security(("bearer" = [])), request_body = NewDataset,
    responses((status = 201, body = DatasetView), (status = 403, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_dataset(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<NewDataset>,
) -> Result<(StatusCode, Json<DatasetView>), ApiError> {
    auth.require(Entity::Datasets, Right::Create)?;
    let project = match load_project(&state, &auth, request.project_id).await {
        Ok(project) => project,
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::Unprocessable(
                Rejection::new("unknown_project", "no such project").field("project_id"),
            ))
        }
        Err(other) => return Err(other),
    };
    let id = DatasetId::new();
    let tenant = project.tenant_id;
    let command = DatasetCommand::CreateDataset {
        dataset_id: id,
        tenant_id: tenant,
        project_id: request.project_id,
        name: request.name.clone(),
        description: request.description,
    };
    // Refuse a bad request before the name is reserved, so it changes nothing.
    precheck::<Dataset>(&DatasetState::default(), &command)?;
    let meta = now_meta(&auth, tenant);
    let key = unique::dataset_name(request.project_id, &request.name);
    let owner = id.to_string();
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<Dataset>(naming, None, key, DatasetState::is_live, command).await?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let view = DatasetView::from_state(&dataset).ok_or_else(gone)?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])),
    responses((status = 200, body = DatasetView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn get_dataset(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
) -> Result<Json<DatasetView>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    DatasetView::from_state(&dataset).map(Json).ok_or_else(gone)
}

#[utoipa::path(put, path = "/api/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])), request_body = DatasetChange,
    responses((status = 200, body = DatasetView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_dataset(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
    Json(request): Json<DatasetChange>,
) -> Result<Json<DatasetView>, ApiError> {
    auth.require(Entity::Datasets, Right::Edit)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let project = dataset.project_id.ok_or_else(gone)?;
    let command = DatasetCommand::UpdateDataset {
        name: request.name.clone(),
        description: request.description,
    };
    precheck::<Dataset>(&dataset, &command)?;
    let meta = now_meta(&auth, dataset.tenant_id);
    let owner = id.to_string();
    let (from, to) = (
        unique::dataset_name(project, &dataset.name),
        unique::dataset_name(project, &request.name),
    );
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<Dataset>(naming, Some(from), to, DatasetState::is_live, command)
        .await?;
    let dataset = load_dataset(&state, &auth, id).await?;
    DatasetView::from_state(&dataset).map(Json).ok_or_else(gone)
}

#[utoipa::path(delete, path = "/api/v1/datasets/{id}", tag = "datasets", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails)))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Datasets, Right::Delete)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let project = dataset.project_id.ok_or_else(gone)?;
    let meta = now_meta(&auth, dataset.tenant_id);
    let owner = id.to_string();
    state
        .store
        .execute::<Dataset>(
            &owner,
            &meta,
            DatasetCommand::DeleteDataset,
            &[EventId::new()],
        )
        .await?;
    // Versions uploaded up to the deletion; the aggregate accepts no new one after it.
    let deleted = state.store.load::<Dataset>(&owner).await?.state;
    for version in &deleted.versions {
        remove_objects(&state.datasets, id, &version.upload.sha256).await;
    }
    let key = unique::dataset_name(project, &dataset.name);
    unique::free(&state.store, &meta, &key, &owner).await?;
    Ok(StatusCode::NO_CONTENT)
}
