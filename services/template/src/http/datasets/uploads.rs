//! `/datasets/{id}/uploads`: resumable uploads of an archive, for large archives over links that
//! break. A client declares the size (`POST`), sends the bytes in any number of `PATCH` requests,
//! each starting at the offset the server holds (`Upload-Offset`), and after a broken connection
//! asks for that offset (`GET`) and goes on from there. What arrived before a break is kept. The
//! last byte stores the archive as the dataset's next version, exactly as a one-request upload
//! would; if storing fails for a reason worth retrying, an empty `PATCH` at the full offset tries
//! again without sending anything twice.

use std::io::Read;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{DatasetId, Rejection};
use trainyard_platform::http::{ApiError, Json, ProblemDetails, RequestDeadline};
use uuid::Uuid;

use super::versions::{check_file_name, next_chunk, store_version, Archive};
use super::{load_dataset, NewUpload, UploadPath, UploadView, VersionView};
use crate::domain::dataset::DatasetState;
use crate::state::AppState;
use crate::uploads::{Declared, Session};

/// The header naming where a piece starts (and, in answers, how much the upload holds).
const UPLOAD_OFFSET: &str = "upload-offset";

fn upload_gone() -> ApiError {
    ApiError::not_found("not_found", "no such upload")
}

fn busy() -> ApiError {
    ApiError::Conflict(Rejection::conflict(
        "upload_busy",
        "another request is writing to this upload; retry when it has finished",
    ))
}

/// The upload `upload` of dataset `id`; 404 for an unknown, expired or foreign one.
async fn open(
    state: &AppState,
    dataset: &DatasetState,
    id: DatasetId,
    upload: Uuid,
) -> Result<Session, ApiError> {
    let session = state
        .uploads
        .open(upload)
        .await
        .map_err(ApiError::internal)?;
    session
        .filter(|s| s.declared.dataset_id == id && s.declared.tenant_id == dataset.tenant_id)
        .ok_or_else(upload_gone)
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}/uploads", tag = "datasets", security(("bearer" = [])),
    responses((status = 200, description = "The dataset's uploads in progress, oldest first", body = Vec<UploadView>),
        (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn list_uploads(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
) -> Result<Json<Vec<UploadView>>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let sessions = state.uploads.all().await.map_err(ApiError::internal)?;
    let views = sessions
        .iter()
        .filter(|s| s.declared.dataset_id == id && s.declared.tenant_id == dataset.tenant_id)
        .map(|s| UploadView::of(s, None))
        .collect();
    Ok(Json(views))
}

#[utoipa::path(post, path = "/api/v1/datasets/{id}/uploads", tag = "datasets", security(("bearer" = [])), request_body = NewUpload,
    responses((status = 201, description = "Begun; send the bytes with `PATCH`", body = UploadView),
        (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails),
        (status = 409, description = "`too_many_uploads`: this instance holds as many as it may", body = ProblemDetails),
        (status = 413, description = "`upload_too_large`", body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn begin_upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<DatasetId>,
    Json(request): Json<NewUpload>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<UploadView>,
    ),
    ApiError,
> {
    auth.require(Entity::Datasets, Right::Edit)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let limits = &state.config.service.datasets;
    if request.size == 0 {
        return Err(ApiError::Unprocessable(
            Rejection::new("empty_upload", "an archive has at least one byte").field("size"),
        ));
    }
    if request.size > limits.max_upload_bytes {
        return Err(ApiError::PayloadTooLarge(
            Rejection::new(
                "upload_too_large",
                format!(
                    "the archive is larger than the limit of {} bytes",
                    limits.max_upload_bytes
                ),
            )
            .field("size"),
        ));
    }
    let file_name = check_file_name(request.file_name)?;
    let open = state.uploads.all().await.map_err(ApiError::internal)?.len();
    if open >= limits.max_open_uploads {
        return Err(ApiError::Conflict(Rejection::conflict(
            "too_many_uploads",
            format!(
                "{open} uploads are in progress, the most this server holds; finish or cancel one"
            ),
        )));
    }
    let declared = Declared {
        id: Uuid::now_v7(),
        dataset_id: id,
        tenant_id: dataset.tenant_id,
        size: request.size,
        file_name,
        created_at: crate::http::now(),
    };
    let session = state
        .uploads
        .begin(&declared)
        .await
        .map_err(ApiError::internal)?;
    let location = format!("/api/v1/datasets/{id}/uploads/{}", declared.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UploadView::of(&session, None)),
    ))
}

#[utoipa::path(get, path = "/api/v1/datasets/{id}/uploads/{upload}", tag = "datasets", security(("bearer" = [])), params(UploadPath),
    responses((status = 200, description = "Where the next piece starts", body = UploadView),
        (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn get_upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(UploadPath { id, upload }): Path<UploadPath>,
) -> Result<Json<UploadView>, ApiError> {
    auth.require(Entity::Datasets, Right::View)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let session = open(&state, &dataset, id, upload).await?;
    Ok(Json(UploadView::of(&session, None)))
}

#[utoipa::path(delete, path = "/api/v1/datasets/{id}/uploads/{upload}", tag = "datasets", security(("bearer" = [])), params(UploadPath),
    responses((status = 204, description = "Cancelled; what it held is removed"), (status = 403, body = ProblemDetails),
        (status = 404, body = ProblemDetails), (status = 409, description = "`upload_busy`", body = ProblemDetails)))]
pub async fn cancel_upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(UploadPath { id, upload }): Path<UploadPath>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::Datasets, Right::Edit)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    open(&state, &dataset, id, upload).await?;
    let _turn = state
        .uploads
        .lock(upload)
        .map_err(ApiError::internal)?
        .ok_or_else(busy)?;
    state
        .uploads
        .remove(upload)
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/api/v1/datasets/{id}/uploads/{upload}", tag = "datasets", security(("bearer" = [])), params(UploadPath, ("Upload-Offset" = u64, Header, description = "Where this piece starts: the offset the upload holds.")),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream", description = "The next bytes of the archive."),
    responses((status = 200, description = "Appended; `version` is set once the last byte arrived", body = UploadView),
        (status = 400, description = "`upload_stalled` or `upload_interrupted`: what arrived is kept", body = ProblemDetails),
        (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails),
        (status = 409, description = "`offset_mismatch`, `upload_busy`, or `duplicate_upload` for the completed archive", body = ProblemDetails),
        (status = 422, description = "`upload_exceeds_size` or `invalid_offset`", body = ProblemDetails)))]
pub async fn append_upload(
    State(state): State<AppState>,
    auth: Auth,
    deadline: RequestDeadline,
    Path(UploadPath { id, upload }): Path<UploadPath>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<UploadView>, ApiError> {
    auth.require(Entity::Datasets, Right::Edit)?;
    let dataset = load_dataset(&state, &auth, id).await?;
    let offset = header_u64(&headers, UPLOAD_OFFSET).ok_or_else(|| {
        ApiError::Unprocessable(
            Rejection::new(
                "invalid_offset",
                "`Upload-Offset` must be the number of bytes the upload holds",
            )
            .field("Upload-Offset"),
        )
    })?;
    open(&state, &dataset, id, upload).await?;
    let _turn = state
        .uploads
        .lock(upload)
        .map_err(ApiError::internal)?
        .ok_or_else(busy)?;
    // Read again under the turn: another writer may have moved the offset meanwhile.
    let session = open(&state, &dataset, id, upload).await?;
    if offset != session.offset {
        return Err(ApiError::Conflict(
            Rejection::conflict(
                "offset_mismatch",
                format!(
                    "the upload holds {} bytes; send the piece that starts there",
                    session.offset
                ),
            )
            .field("Upload-Offset"),
        ));
    }
    let room = session.declared.size.saturating_sub(session.offset);
    if header_u64(&headers, header::CONTENT_LENGTH.as_str()).is_some_and(|length| length > room) {
        return Err(exceeds(room));
    }
    // A piece may take longer than the request timeout; a stalled client is refused instead.
    deadline.lift();
    append(&state, &session, body).await?;
    let session = open(&state, &dataset, id, upload).await?;
    if session.offset < session.declared.size {
        return Ok(Json(UploadView::of(&session, None)));
    }
    let version = complete(&state, &auth, &dataset, &session).await?;
    Ok(Json(UploadView::of(&session, Some(version))))
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn exceeds(room: u64) -> ApiError {
    ApiError::Unprocessable(
        Rejection::new(
            "upload_exceeds_size",
            format!("the piece is longer than the {room} bytes the declared size leaves"),
        )
        .field("body"),
    )
}

/// Appends the body to the upload's bytes. What arrives before a break is kept (synced, so the
/// offset a client is told survives a crash); a piece that overruns the declared size is taken
/// back whole.
async fn append(state: &AppState, session: &Session, body: Body) -> Result<(), ApiError> {
    let path = state.uploads.part_path(session.declared.id);
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .await
        .map_err(ApiError::internal)?;
    let room = session.declared.size.saturating_sub(session.offset);
    let idle = state.config.common.http.request_timeout();
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    let outcome = loop {
        match next_chunk(&mut stream, idle).await {
            Ok(Some(chunk)) => {
                written += chunk.len() as u64;
                if written > room {
                    file.set_len(session.offset)
                        .await
                        .map_err(ApiError::internal)?;
                    break Err(exceeds(room));
                }
                if let Err(error) = file.write_all(&chunk).await {
                    break Err(ApiError::internal(error));
                }
            }
            Ok(None) => break Ok(()),
            Err(error) => break Err(error),
        }
    };
    file.flush().await.map_err(ApiError::internal)?;
    file.sync_all().await.map_err(ApiError::internal)?;
    outcome
}

/// Stores the whole archive as a version. The upload ends unless storing failed for a reason
/// worth retrying (then an empty `PATCH` at the full offset tries again).
async fn complete(
    state: &AppState,
    auth: &Auth,
    dataset: &DatasetState,
    session: &Session,
) -> Result<VersionView, ApiError> {
    let declared = &session.declared;
    let path = state.uploads.part_path(declared.id);
    let hashed = path.clone();
    let sha256 = tokio::task::spawn_blocking(move || sha256_of(&hashed))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let archive = Archive {
        path: &path,
        sha256,
        size: declared.size,
        file_name: declared.file_name.clone(),
    };
    let stored = store_version(state, auth, dataset, declared.dataset_id, archive).await;
    let retry = matches!(
        stored,
        Err(ApiError::Unavailable(_) | ApiError::Timeout | ApiError::Internal(_))
    );
    if !retry {
        state
            .uploads
            .remove(declared.id)
            .await
            .map_err(ApiError::internal)?;
    }
    stored
}

fn sha256_of(path: &std::path::Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}
