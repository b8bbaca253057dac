//! A dataset's versions: list and read them, and upload a new one in a single request (streamed
//! to a work file while hashed and counted, then stored). `store_version` is shared with the
//! resumable uploads.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{DatasetId, EventId, Rejection};
use trainyard_platform::http::{ApiError, Json, ProblemDetails, RequestDeadline};

use super::{load_dataset, UploadQuery, VersionPath, VersionView};
use crate::archive::archive_object;
use crate::domain::dataset::{Dataset, DatasetCommand, DatasetState, Upload};
use crate::http::{now_meta, precheck, Page, PageQuery};
use crate::state::AppState;

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

pub(super) fn version_gone() -> ApiError {
    ApiError::not_found("not_found", "no such dataset version")
}

pub(super) fn too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(
        Rejection::new(
            "upload_too_large",
            format!("the archive is larger than the limit of {limit} bytes"),
        )
        .field("body"),
    )
}

/// A blank name counts as none; a name is at most 255 printable characters.
pub(super) fn check_file_name(name: Option<String>) -> Result<Option<String>, ApiError> {
    let name = name.filter(|n| !n.trim().is_empty());
    if let Some(name) = &name {
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
    Ok(name)
}

/// The next piece of a request body; refuses a client that sends nothing for `idle` and one
/// whose body breaks off.
pub(super) async fn next_chunk(
    stream: &mut axum::body::BodyDataStream,
    idle: std::time::Duration,
) -> Result<Option<axum::body::Bytes>, ApiError> {
    match tokio::time::timeout(idle, stream.next()).await {
        Err(_) => Err(ApiError::BadRequest(
            Rejection::new(
                "upload_stalled",
                format!("no data arrived for {} seconds", idle.as_secs()),
            )
            .field("body"),
        )),
        Ok(None) => Ok(None),
        Ok(Some(Err(error))) => Err(ApiError::BadRequest(
            Rejection::new(
                "upload_interrupted",
                format!("the upload broke off: {error}"),
            )
            .field("body"),
        )),
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
    }
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
    while let Some(chunk) = next_chunk(&mut stream, idle).await? {
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
    let file_name = check_file_name(query.file_name)?;
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
    let archive = Archive {
        path: &received.file,
        sha256: received.sha256.clone(),
        size: received.size,
        file_name,
    };
    let view = store_version(&state, &auth, &dataset, id, archive).await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// A whole archive in a work file, ready to be stored.
pub(super) struct Archive<'a> {
    pub path: &'a std::path::Path,
    pub sha256: String,
    pub size: u64,
    pub file_name: Option<String>,
}

/// Stores a received archive as the dataset's next version: refused as a duplicate before
/// anything is stored, put into the bucket under its digest, then recorded; on a refusal the
/// object is removed again unless a version uses it.
pub(super) async fn store_version(
    state: &AppState,
    auth: &Auth,
    dataset: &DatasetState,
    id: DatasetId,
    received: Archive<'_>,
) -> Result<VersionView, ApiError> {
    let object = archive_object(id, &received.sha256);
    let command = DatasetCommand::AddVersion {
        upload: Upload {
            object: object.clone(),
            sha256: received.sha256.clone(),
            size: received.size,
            file_name: received.file_name,
        },
        at: crate::http::now(),
    };
    // A duplicate is refused before anything is stored (its object is the same one).
    let current = state.store.load::<Dataset>(&id.to_string()).await?.state;
    precheck::<Dataset>(&current, &command)?;
    let mut file = tokio::fs::File::open(received.path)
        .await
        .map_err(ApiError::internal)?;
    let stored = state
        .datasets
        .put(&object, &mut file)
        .await
        .map_err(ApiError::unavailable)?;
    if stored.sha256 != received.sha256 || stored.size != received.size {
        discard_unused(state, id, &object).await;
        return Err(ApiError::internal(anyhow::anyhow!(
            "stored object {object} differs from the received upload"
        )));
    }
    let meta = now_meta(auth, dataset.tenant_id);
    if let Err(error) = state
        .store
        .execute::<Dataset>(&id.to_string(), &meta, command, &[EventId::new()])
        .await
    {
        discard_unused(state, id, &object).await;
        return Err(error.into());
    }
    let after = state.store.load::<Dataset>(&id.to_string()).await?.state;
    let version = after
        .versions
        .iter()
        .find(|v| v.upload.sha256 == received.sha256)
        .ok_or_else(version_gone)?;
    tracing::info!(dataset = %id, version = version.version, size = received.size, "dataset version uploaded");
    Ok(VersionView::from(version))
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
