//! `/datasets`: a project's datasets and their uploaded versions. An upload is a ZIP in the
//! request body, streamed to a work file while it is hashed and counted, then stored in the
//! datasets bucket under a content-addressed name; the validator (see `crate::consumer`) takes it
//! from `uploaded` to `ready` or `invalid`.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{DatasetId, EventId, Metadata, ProjectId, Rejection, TenantId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails, RequestDeadline};
use trainyard_platform::object_store::ObjectStoreError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::projects::{load_project, prefix_pattern};
use super::{load_live, now_meta, precheck, Page, PageQuery};
use crate::archive::{archive_object, remove_objects, render_grid, samples_object};
use crate::domain::dataset::{
    Dataset, DatasetCommand, DatasetState, DatasetStatistics, DatasetVersion, InvalidReason,
    Upload, VersionStatus,
};
use crate::state::AppState;
use crate::unique;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_datasets, create_dataset))
        .routes(routes!(get_dataset, update_dataset, delete_dataset))
        .routes(routes!(list_versions, upload_version))
        .routes(routes!(get_version))
        .routes(routes!(get_samples))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatasetView {
    #[schema(value_type = String, format = Uuid)]
    pub id: DatasetId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    /// The newest version's number; absent before the first upload.
    pub latest_version: Option<u32>,
    /// The newest version's status.
    pub latest_status: Option<VersionStatus>,
    /// Training templates using a version of this dataset (it cannot be deleted while any do).
    pub templates: u64,
}

impl DatasetView {
    fn from_state(state: &DatasetState) -> Option<Self> {
        let latest = state.versions.last();
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id,
            project_id: state.project_id?,
            name: state.name.clone(),
            description: state.description.clone(),
            latest_version: latest.map(|v| v.version),
            latest_status: latest.map(|v| v.status),
            templates: u64::try_from(state.references.len()).unwrap_or(u64::MAX),
        })
    }
}

/// One uploaded version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: u32,
    pub status: VersionStatus,
    /// SHA-256 of the uploaded archive, lowercase hex.
    pub sha256: String,
    /// Size of the uploaded archive in bytes.
    pub size: u64,
    pub file_name: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    /// Why validation refused the archive (status `invalid`).
    pub reason: Option<InvalidReason>,
    /// What validation found (status `ready`).
    pub statistics: Option<DatasetStatistics>,
}

impl From<&DatasetVersion> for VersionView {
    fn from(v: &DatasetVersion) -> Self {
        Self {
            version: v.version,
            status: v.status,
            sha256: v.upload.sha256.clone(),
            size: v.upload.size,
            file_name: v.upload.file_name.clone(),
            uploaded_at: v.uploaded_at,
            reason: v.reason.clone(),
            statistics: v.statistics.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    /// The project the dataset belongs to.
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    /// Letters of any script, digits, `-`, `_`, `.`; unique in the project (case-insensitive).
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetChange {
    /// Letters of any script, digits, `-`, `_`, `.`; unique in the project (case-insensitive).
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DatasetFilter {
    /// Only this project's datasets.
    #[param(value_type = Option<String>, format = Uuid)]
    pub project_id: Option<ProjectId>,
    /// Names starting with this (case-insensitive).
    pub name: Option<String>,
    /// Only datasets whose newest version has this status: `uploaded`, `validating`, `ready`
    /// or `invalid`.
    pub status: Option<String>,
    /// Administrators: only this tenant's datasets.
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The archive's original file name, kept for people.
    pub file_name: Option<String>,
}

/// One version of one dataset.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    /// The dataset.
    #[param(value_type = String, format = Uuid)]
    pub id: DatasetId,
    /// The version number (from 1).
    pub version: u32,
}

fn gone() -> ApiError {
    ApiError::not_found("not_found", "no such dataset")
}

/// Loads a live dataset the caller may see; 404 otherwise.
async fn load_dataset(
    state: &AppState,
    auth: &Auth,
    id: DatasetId,
) -> Result<DatasetState, ApiError> {
    let loaded = load_live::<Dataset>(state, auth, id, "dataset", DatasetState::is_live, |d| {
        Some(d.tenant_id)
    })
    .await?;
    Ok(loaded.state)
}

const STATUSES: [VersionStatus; 4] = [
    VersionStatus::Uploaded,
    VersionStatus::Validating,
    VersionStatus::Ready,
    VersionStatus::Invalid,
];

fn status_named(name: &str) -> Option<VersionStatus> {
    STATUSES.into_iter().find(|s| s.as_str() == name)
}

fn parse_status(status: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    let Some(status) = status else {
        return Ok(None);
    };
    status_named(status)
        .map(|s| Some(s.as_str()))
        .ok_or_else(|| {
            ApiError::Unprocessable(
                Rejection::new(
                    "invalid_status",
                    "`status` must be one of uploaded, validating, ready, invalid",
                )
                .field("status"),
            )
        })
}

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
    let client = state.pool.get().await.map_err(ApiError::unavailable)?;
    let rows = client
        .query(
            "SELECT id, tenant_id, project_id, name, description, latest_version, latest_status, templates
             FROM template.datasets
             WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR project_id = $2)
               AND ($3::text IS NULL OR lower(name) LIKE $3) AND ($4::text IS NULL OR latest_status = $4)
             ORDER BY lower(name), id LIMIT $5 OFFSET $6",
            &[
                &tenant,
                &project,
                &prefix_pattern(filter.name.as_deref()),
                &status,
                &page.fetch(),
                &page.offset(),
            ],
        )
        .await
        .map_err(ApiError::unavailable)?;
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

fn naming<'a>(state: &'a AppState, meta: &'a Metadata, owner: &'a str) -> unique::Naming<'a> {
    unique::Naming {
        store: &state.store,
        meta,
        owner,
        taken: NAME_TAKEN,
    }
}

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
    let naming = naming(&state, &meta, &owner);
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
    let naming = naming(&state, &meta, &owner);
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

#[utoipa::path(get, path = "/api/v1/datasets/{id}/versions", tag = "datasets", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Page<VersionView>), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<VersionView>>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let items = dataset
        .versions
        .iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.fetch()).unwrap_or(usize::MAX))
        .map(VersionView::from)
        .collect();
    Ok(Json(page.page(items)))
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}/versions/{version}", tag = "datasets", security(("bearer" = [])), params(VersionPath),
    responses((status = 200, body = VersionView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn get_version(
    State(state): State<AppState>,
    auth: Auth,
    Path(VersionPath { id, version }): Path<VersionPath>,
) -> Result<Json<VersionView>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    dataset
        .version(version)
        .map(|v| Json(VersionView::from(v)))
        .ok_or_else(version_gone)
}

fn version_gone() -> ApiError {
    ApiError::not_found("not_found", "no such dataset version")
}

fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(
        Rejection::new(
            "upload_too_large",
            format!("the archive is larger than the limit of {limit} bytes"),
        )
        .field("body"),
    )
}

/// The archive written to a work file, with its digest and size. The file is removed on drop.
struct Received {
    file: tempfile::TempPath,
    sha256: String,
    size: u64,
}

/// Streams `body` into a work file while hashing and counting; refuses more than `limit` bytes
/// and a client that sends nothing for `idle` (the request timeout no longer applies).
async fn receive(
    body: Body,
    work_dir: PathBuf,
    limit: u64,
    idle: std::time::Duration,
) -> Result<Received, ApiError> {
    tokio::fs::create_dir_all(&work_dir)
        .await
        .map_err(ApiError::internal)?;
    let path = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(".zip")
        .tempfile_in(&work_dir)
        .map_err(ApiError::internal)?
        .into_temp_path();
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    loop {
        let chunk = match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => {
                return Err(ApiError::BadRequest(
                    Rejection::new(
                        "upload_stalled",
                        format!("no data arrived for {} seconds", idle.as_secs()),
                    )
                    .field("body"),
                ))
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(ApiError::BadRequest(
                    Rejection::new(
                        "upload_interrupted",
                        format!("the upload broke off: {error}"),
                    )
                    .field("body"),
                ))
            }
            Ok(Some(Ok(chunk))) => chunk,
        };
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    file.sync_all().await.map_err(ApiError::internal)?;
    Ok(Received {
        file: path,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

#[utoipa::path(post, path = "/api/v1/datasets/{id}/versions", tag = "datasets", security(("bearer" = [])), params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "The ImageFolder ZIP archive: one folder per class, optionally under `train/` and `test/`."),
    responses((status = 202, description = "Stored; validation follows", body = VersionView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails),
        (status = 409, description = "`duplicate_upload`: a version has exactly these bytes", body = ProblemDetails),
        (status = 413, description = "`upload_too_large`", body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn upload_version(
    State(state): State<AppState>,
    auth: Auth,
    deadline: RequestDeadline,
    Path(id): Path<DatasetId>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    auth.require(Entity::Datasets, Right::Edit)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let limits = &state.config.service.datasets;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_upload_bytes) {
        return Err(too_large(limits.max_upload_bytes));
    }
    let file_name = query.file_name.filter(|n| !n.trim().is_empty());
    if let Some(name) = &file_name {
        if name.chars().count() > 255 || name.chars().any(char::is_control) {
            return Err(ApiError::Unprocessable(
                Rejection::new(
                    "invalid_file_name",
                    "`file_name` must be at most 255 printable characters",
                )
                .field("file_name"),
            ));
        }
    }
    // The body may take longer than the request timeout; a stalled client is refused instead.
    deadline.lift();
    let received = receive(
        body,
        limits.work_dir(),
        limits.max_upload_bytes,
        state.config.common.http.request_timeout(),
    )
    .await?;
    if received.size == 0 {
        return Err(ApiError::Unprocessable(
            Rejection::new("empty_upload", "the request body holds no archive").field("body"),
        ));
    }
    let object = archive_object(id, &received.sha256);
    let command = DatasetCommand::AddVersion {
        upload: Upload {
            object: object.clone(),
            sha256: received.sha256.clone(),
            size: received.size,
            file_name,
        },
        at: crate::http::now(),
    };
    // A duplicate is refused before anything is stored (its object is the same one).
    let current = state.store.load::<Dataset>(&id.to_string()).await?.state;
    precheck::<Dataset>(&current, &command)?;
    let mut file = tokio::fs::File::open(&received.file)
        .await
        .map_err(ApiError::internal)?;
    let stored = state
        .datasets
        .put(&object, &mut file)
        .await
        .map_err(ApiError::unavailable)?;
    if stored.sha256 != received.sha256 || stored.size != received.size {
        discard_unused(&state, id, &object).await;
        return Err(ApiError::internal(anyhow::anyhow!(
            "stored object {object} differs from the received upload"
        )));
    }
    let meta = now_meta(&auth, dataset.tenant_id);
    if let Err(error) = state
        .store
        .execute::<Dataset>(&id.to_string(), &meta, command, &[EventId::new()])
        .await
    {
        discard_unused(&state, id, &object).await;
        return Err(error.into());
    }
    let after = state.store.load::<Dataset>(&id.to_string()).await?.state;
    let version = after
        .versions
        .iter()
        .find(|v| v.upload.sha256 == received.sha256)
        .ok_or_else(version_gone)?;
    tracing::info!(dataset = %id, version = version.version, size = received.size, "dataset version uploaded");
    Ok((StatusCode::ACCEPTED, Json(VersionView::from(version))))
}

/// Removes `object` after a failed upload unless a version of the dataset uses it.
async fn discard_unused(state: &AppState, dataset: DatasetId, object: &str) {
    let used = match state.store.load::<Dataset>(&dataset.to_string()).await {
        Ok(loaded) => loaded
            .state
            .versions
            .iter()
            .any(|v| v.upload.object == object),
        // Unknown: keeping an orphan is better than losing a version's archive.
        Err(_) => true,
    };
    if used {
        return;
    }
    if let Err(error) = state.datasets.delete(object).await {
        tracing::warn!(%error, %object, "object of a refused upload not removed");
    }
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}/versions/{version}/samples.png", tag = "datasets", security(("bearer" = [])), params(VersionPath),
    responses((status = 200, description = "One row per class (in class order), a few images each", content_type = "image/png", body = Vec<u8>),
        (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails),
        (status = 409, description = "`version_not_ready`", body = ProblemDetails)))]
pub async fn get_samples(
    State(state): State<AppState>,
    auth: Auth,
    deadline: RequestDeadline,
    Path(VersionPath { id, version }): Path<VersionPath>,
) -> Result<Response, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let version = dataset.version(version).ok_or_else(version_gone)?;
    let Some(statistics) = version
        .statistics
        .as_ref()
        .filter(|_| version.status == VersionStatus::Ready)
    else {
        return Err(ApiError::Conflict(
            Rejection::conflict(
                "version_not_ready",
                format!(
                    "version {} is {}; samples exist only for ready versions",
                    version.version,
                    version.status.as_str()
                ),
            )
            .field("version"),
        ));
    };
    let object = samples_object(id, &version.upload.sha256);
    let png = match read_object(&state, &object).await {
        Ok(png) => png,
        Err(ObjectStoreError::NotFound { .. }) => {
            // Rendered by the validator; rendered here when that did not happen. The archive may
            // be large, so the request timeout does not apply.
            deadline.lift();
            let classes: Vec<String> = statistics.classes.iter().map(|c| c.name.clone()).collect();
            let png = render_from_bucket(&state, &version.upload, &classes).await?;
            let mut reader = png.as_slice();
            if let Err(error) = state.datasets.put(&object, &mut reader).await {
                tracing::warn!(%error, %object, "sample grid not kept");
            }
            png
        }
        Err(other) => return Err(ApiError::unavailable(other)),
    };
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn read_object(state: &AppState, object: &str) -> Result<Vec<u8>, ObjectStoreError> {
    use tokio::io::AsyncReadExt;
    let mut reader = state.datasets.get(object).await?;
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|source| ObjectStoreError::File {
            path: object.to_owned(),
            source,
        })?;
    Ok(bytes)
}

/// Downloads a version's archive to a work file and renders its sample grid.
async fn render_from_bucket(
    state: &AppState,
    upload: &Upload,
    classes: &[String],
) -> Result<Vec<u8>, ApiError> {
    let limits = state.config.service.datasets.clone();
    let work_dir = limits.work_dir();
    tokio::fs::create_dir_all(&work_dir)
        .await
        .map_err(ApiError::internal)?;
    let dir = tempfile::Builder::new()
        .prefix("samples-")
        .tempdir_in(&work_dir)
        .map_err(ApiError::internal)?;
    let path = dir.path().join("archive.zip");
    state
        .datasets
        .get_to_file(&upload.object, &path, Some(&upload.sha256))
        .await
        .map_err(ApiError::unavailable)?;
    let classes = classes.to_vec();
    let png = tokio::task::spawn_blocking(move || {
        let bounds = limits.engine_limits();
        let rendered = render_grid(&path, &classes, bounds.max_entry_bytes, bounds.max_pixels);
        drop(dir);
        rendered
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(png)
}
