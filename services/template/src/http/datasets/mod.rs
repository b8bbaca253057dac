//! `/datasets`: a project's datasets and their uploaded versions. An archive arrives in one
//! request (`versions`) or in resumable pieces (`uploads`); either way it is stored in the
//! datasets bucket under a content-addressed name, and the validator (see `crate::consumer`) takes
//! the version from `uploaded` to `ready` or `invalid`.

mod crud;
mod samples;
mod uploads;
mod versions;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_auth::Auth;
use trainyard_core::{DatasetId, ProjectId, Rejection, TenantId};
use trainyard_platform::http::ApiError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::load_live;
use crate::domain::dataset::{
    Dataset, DatasetState, DatasetStatistics, DatasetVersion, InvalidReason, VersionStatus,
};
use crate::state::AppState;
use crate::uploads::Session;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(crud::list_datasets, crud::create_dataset))
        .routes(routes!(
            crud::get_dataset,
            crud::update_dataset,
            crud::delete_dataset
        ))
        .routes(routes!(versions::list_versions, versions::upload_version))
        .routes(routes!(versions::get_version))
        .routes(routes!(samples::get_samples))
        .routes(routes!(uploads::list_uploads, uploads::begin_upload))
        .routes(routes!(
            uploads::get_upload,
            uploads::append_upload,
            uploads::cancel_upload
        ))
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
    pub(super) fn from_state(state: &DatasetState) -> Option<Self> {
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

pub(super) fn gone() -> ApiError {
    ApiError::not_found("not_found", "no such dataset")
}

/// Loads a live dataset the caller may see; 404 otherwise.
pub(super) async fn load_dataset(
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

pub(super) fn status_named(name: &str) -> Option<VersionStatus> {
    STATUSES.into_iter().find(|s| s.as_str() == name)
}

pub(super) fn parse_status(status: Option<&str>) -> Result<Option<&'static str>, ApiError> {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpload {
    /// The whole archive's size in bytes.
    pub size: u64,
    /// The archive's original file name, kept for people.
    pub file_name: Option<String>,
}

/// A resumable upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    #[schema(value_type = String, format = Uuid)]
    pub id: Uuid,
    #[schema(value_type = String, format = Uuid)]
    pub dataset_id: DatasetId,
    /// The whole archive's size in bytes.
    pub size: u64,
    /// Bytes received so far: the next piece starts here.
    pub offset: u64,
    pub file_name: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The upload is removed if no byte arrives by then.
    pub expires_at: DateTime<Utc>,
    /// The version the archive became, in the answer to the piece that completed it (the upload
    /// itself is gone after that).
    pub version: Option<VersionView>,
}

impl UploadView {
    pub(super) fn of(session: &Session, version: Option<VersionView>) -> Self {
        let declared = &session.declared;
        Self {
            id: declared.id,
            dataset_id: declared.dataset_id,
            size: declared.size,
            offset: session.offset,
            file_name: declared.file_name.clone(),
            created_at: declared.created_at,
            expires_at: session.expires_at,
            version,
        }
    }
}

/// One upload of one dataset.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UploadPath {
    /// The dataset.
    #[param(value_type = String, format = Uuid)]
    pub id: DatasetId,
    /// The upload.
    #[param(value_type = String, format = Uuid)]
    pub upload: Uuid,
}
