//! Augmentation previews: a PNG grid, one row per image (the original first, then augmented
//! variants), drawn by the engine exactly as training will draw them. Images come from the
//! template's dataset version, or from generated document pages when there is none.

use std::path::Path as FsPath;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::Deserialize;
use tch::Tensor;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::training::Augmentation;
use trainyard_core::{DatasetId, TrainingTemplateId};
use trainyard_engine::augment::{self, AugmentParams};
use trainyard_engine::data::{self, Limits, LoadOptions};
use trainyard_platform::http::{ApiError, ProblemDetails};
use utoipa::IntoParams;

use super::load_template;
use crate::domain::dataset::{Dataset, DatasetState, VersionStatus};
use crate::http::load_live;
use crate::state::AppState;

/// Largest grid side in images, so a preview stays cheap.
const MAX_IMAGES: usize = 8;
const MAX_VARIANTS: usize = 8;
const DEFAULT_SIZE: u32 = 96;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Rows (1–8, default 4).
    pub images: Option<usize>,
    /// Augmented variants per row (1–8, default 5).
    pub variants: Option<usize>,
    pub seed: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormPreviewQuery {
    /// `none`, `exposure_noise` or `rotations_exposure_noise` (default).
    #[param(value_type = Option<String>)]
    pub augmentation: Option<Augmentation>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub dataset_id: Option<DatasetId>,
    /// The newest ready version when absent.
    pub dataset_version: Option<u32>,
    /// Square side in pixels (16–256, default 96).
    pub image_size: Option<u32>,
}

/// A preview for a template being edited (nothing saved yet).
#[utoipa::path(get, path = "/api/v1/training-templates/augmentation-preview.png", tag = "training-templates", security(("bearer" = [])),
    params(FormPreviewQuery, PreviewQuery),
    responses((status = 200, description = "PNG grid", content_type = "image/png"), (status = 422, body = ProblemDetails)))]
pub async fn preview(
    State(state): State<AppState>,
    auth: Auth,
    Query(form): Query<FormPreviewQuery>,
    Query(query): Query<PreviewQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let source = match form.dataset_id {
        Some(id) => Some(dataset_source(&state, &auth, id, form.dataset_version).await?),
        None => None,
    };
    let size = form.image_size.unwrap_or(DEFAULT_SIZE);
    render(
        &state,
        form.augmentation.unwrap_or_default(),
        size,
        source,
        &query,
    )
    .await
}

/// A preview of a saved template's augmentation on its own dataset.
#[utoipa::path(get, path = "/api/v1/training-templates/{id}/augmentation-preview.png", tag = "training-templates", security(("bearer" = [])),
    params(PreviewQuery),
    responses((status = 200, description = "PNG grid", content_type = "image/png"), (status = 404, body = ProblemDetails)))]
pub async fn template_preview(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
    Query(query): Query<PreviewQuery>,
) -> Result<impl IntoResponse, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let template = load_template(&state, &auth, id).await?;
    let spec = template
        .current()
        .map(|v| v.spec.clone())
        .ok_or_else(|| ApiError::not_found("not_found", "no such training template"))?;
    let source = match spec.dataset {
        Some(d) => Some(dataset_source(&state, &auth, d.dataset_id, Some(d.version)).await?),
        None => None,
    };
    let size = spec.parameters.image_size.unwrap_or(DEFAULT_SIZE).min(256);
    render(&state, spec.augmentation, size, source, &query).await
}

/// Object name and digest of a ready dataset version the caller may see.
async fn dataset_source(
    state: &AppState,
    auth: &Auth,
    id: DatasetId,
    version: Option<u32>,
) -> Result<(String, String), ApiError> {
    let unknown = || -> ApiError {
        trainyard_core::Rejection::new("unknown_dataset", "no such dataset")
            .field("dataset_id")
            .into()
    };
    let dataset = load_live::<Dataset>(state, auth, id, "dataset", DatasetState::is_live, |d| {
        Some(d.tenant_id)
    })
    .await
    .map_err(|e| {
        if matches!(e, ApiError::NotFound(_)) {
            unknown()
        } else {
            e
        }
    })?
    .state;
    let chosen = match version {
        Some(v) => dataset.version(v),
        None => dataset.latest_ready(),
    };
    match chosen {
        Some(v) if v.status == VersionStatus::Ready => {
            Ok((v.upload.object.clone(), v.upload.sha256.clone()))
        }
        _ => Err(trainyard_core::Rejection::new(
            "dataset_not_ready",
            "the dataset version does not exist or is not ready",
        )
        .field("dataset_version")
        .into()),
    }
}

async fn render(
    state: &AppState,
    augmentation: Augmentation,
    size: u32,
    source: Option<(String, String)>,
    query: &PreviewQuery,
) -> Result<impl IntoResponse + use<>, ApiError> {
    if !(16..=256).contains(&size) {
        return Err(trainyard_core::Rejection::new(
            "invalid_image_size",
            "`image_size` must be 16–256",
        )
        .field("image_size")
        .into());
    }
    let images = query.images.unwrap_or(4).clamp(1, MAX_IMAGES);
    let variants = query.variants.unwrap_or(5).clamp(1, MAX_VARIANTS);
    let seed = query.seed.unwrap_or(0);
    let work = tempfile::tempdir_in(state.config.service.datasets.work_dir())
        .map_err(ApiError::internal)?;
    let archive = match &source {
        Some((object, sha256)) => {
            let path = work.path().join("dataset.zip");
            state
                .datasets
                .get_to_file(object, &path, Some(sha256))
                .await
                .map_err(ApiError::unavailable)?;
            Some(path)
        }
        None => None,
    };
    let limits = limits(state);
    let mode = engine_mode(augmentation);
    let png = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
        let batch = match &archive {
            Some(path) => dataset_images(path, size, images, limits)?,
            None => generated_images(size, images, seed)?,
        };
        augment::preview_png(&batch, mode, &AugmentParams::default(), seed, variants)
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)??;
    drop(work);
    Ok(([(header::CONTENT_TYPE, "image/png")], png))
}

fn limits(state: &AppState) -> Limits {
    let config = &state.config.service.datasets;
    Limits {
        max_pixels: config.max_pixels,
        max_total_bytes: config.max_inflated_bytes,
        max_zip_ratio: config.max_zip_ratio,
        ..Limits::default()
    }
}

fn engine_mode(augmentation: Augmentation) -> augment::Augmentation {
    match augmentation {
        Augmentation::None => augment::Augmentation::None,
        Augmentation::ExposureNoise => augment::Augmentation::ExposureNoise,
        Augmentation::RotationsExposureNoise => augment::Augmentation::RotationsExposureNoise,
    }
}

/// The first image of each class, then further ones, up to `count`.
fn dataset_images(
    path: &FsPath,
    size: u32,
    count: usize,
    limits: Limits,
) -> Result<Tensor, ApiError> {
    let options = LoadOptions {
        image_size: Some(size),
        limits,
        ..LoadOptions::default()
    };
    let dataset = data::load(path, &options).map_err(ApiError::internal)?;
    let labels = Vec::<i64>::try_from(&dataset.train.labels).map_err(ApiError::internal)?;
    let mut order: Vec<i64> = Vec::new();
    for class in 0..dataset.classes.len() as i64 {
        if let Some(i) = labels.iter().position(|l| *l == class) {
            order.push(i as i64);
        }
    }
    let rest: Vec<i64> = (0..labels.len() as i64)
        .filter(|i| !order.contains(i))
        .collect();
    order.extend(rest);
    order.truncate(count);
    Ok(dataset
        .train
        .images
        .index_select(0, &Tensor::from_slice(&order)))
}

/// Generated document pages, one per class.
fn generated_images(size: u32, count: usize, seed: u64) -> Result<Tensor, ApiError> {
    let pages = trainyard_engine::synth::dataset(count.max(2), 2, size, seed, 0.5)
        .map_err(ApiError::internal)?;
    let n = pages.train.len().min(count) as i64;
    Ok(pages.train.images.narrow(0, 0, n))
}
