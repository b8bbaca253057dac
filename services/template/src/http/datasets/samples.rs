//! The sample grid of a ready version: a PNG with a few images of every class, rendered by the
//! validator and kept beside the archive (rendered here when it is missing).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::Rejection;
use trainyard_platform::http::{ApiError, ProblemDetails, RequestDeadline};
use trainyard_platform::object_store::ObjectStoreError;

use super::versions::version_gone;
use super::{load_dataset, VersionPath};
use crate::archive::{render_grid, samples_object};
use crate::domain::dataset::{Upload, VersionStatus};
use crate::state::AppState;

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
