//! `/training-templates`: versioned training templates (шаблоны обучения), their versions, the
//! processes that pin them, the parameters' JSON Schema and augmentation previews.

mod crud;
mod links;
mod preview;
mod versions;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::training::{Augmentation, TechnicalParameters};
use trainyard_core::{
    BaseModelId, DatasetId, ModelTypeId, ProjectId, TenantId, TrainingTemplateId,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::template::{TemplateState, TemplateVersion};
use crate::state::AppState;

pub use crud::load_template;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(crud::list_templates, crud::create_template))
        .routes(routes!(
            crud::get_template,
            crud::update_template,
            crud::delete_template
        ))
        .routes(routes!(versions::parameters_schema))
        .routes(routes!(versions::list_versions))
        .routes(routes!(versions::get_version))
        .routes(routes!(versions::list_pins, versions::pin_template))
        .routes(routes!(versions::unpin_template))
        .routes(routes!(preview::preview))
        .routes(routes!(preview::template_preview))
}

/// A dataset version a template trains on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct DatasetLink {
    #[schema(value_type = String, format = Uuid)]
    pub dataset_id: DatasetId,
    pub version: u32,
}

/// A template at its current version.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    #[schema(value_type = String, format = Uuid)]
    pub id: TrainingTemplateId,
    #[schema(value_type = String, format = Uuid)]
    pub tenant_id: TenantId,
    #[schema(value_type = String, format = Uuid)]
    pub project_id: ProjectId,
    pub name: String,
    /// The current version; every edit adds one.
    pub version: u32,
    #[schema(value_type = String, format = Uuid)]
    pub model_type_id: ModelTypeId,
    #[schema(value_type = String, format = Uuid)]
    pub base_model_id: BaseModelId,
    pub description: String,
    /// `none`, `exposure_noise` or `rotations_exposure_noise`.
    #[schema(value_type = String, example = "rotations_exposure_noise")]
    pub augmentation: Augmentation,
    /// See `GET /api/v1/training-templates/parameters-schema`.
    #[schema(value_type = Object)]
    pub parameters: TechnicalParameters,
    pub dataset: Option<DatasetLink>,
    /// Training processes created from this template.
    pub processes: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TemplateView {
    pub fn from_state(state: &TemplateState) -> Option<Self> {
        let first = state.versions.first()?;
        let current = state.current()?;
        let spec = &current.spec;
        Some(Self {
            id: state.id?,
            tenant_id: state.tenant_id,
            project_id: state.project_id?,
            name: current.name.clone(),
            version: current.version,
            model_type_id: spec.model_type_id,
            base_model_id: spec.base_model_id,
            description: spec.description.clone(),
            augmentation: spec.augmentation,
            parameters: spec.parameters.clone(),
            dataset: spec.dataset.map(|d| DatasetLink {
                dataset_id: d.dataset_id,
                version: d.version,
            }),
            processes: u32::try_from(state.pins.len()).unwrap_or(u32::MAX),
            created_at: first.created_at,
            updated_at: current.created_at,
        })
    }
}

/// One immutable version.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version: u32,
    pub name: String,
    #[schema(value_type = String, format = Uuid)]
    pub model_type_id: ModelTypeId,
    #[schema(value_type = String, format = Uuid)]
    pub base_model_id: BaseModelId,
    pub description: String,
    #[schema(value_type = String, example = "rotations_exposure_noise")]
    pub augmentation: Augmentation,
    #[schema(value_type = Object)]
    pub parameters: TechnicalParameters,
    pub dataset: Option<DatasetLink>,
    pub created_at: DateTime<Utc>,
    /// Processes pinned to this version.
    #[schema(value_type = Vec<String>)]
    pub pinned_by: Vec<uuid::Uuid>,
}

impl VersionView {
    fn new(state: &TemplateState, version: &TemplateVersion) -> Self {
        let spec = &version.spec;
        Self {
            version: version.version,
            name: version.name.clone(),
            model_type_id: spec.model_type_id,
            base_model_id: spec.base_model_id,
            description: spec.description.clone(),
            augmentation: spec.augmentation,
            parameters: spec.parameters.clone(),
            dataset: spec.dataset.map(|d| DatasetLink {
                dataset_id: d.dataset_id,
                version: d.version,
            }),
            created_at: version.created_at,
            pinned_by: state
                .pins
                .iter()
                .filter(|(_, v)| **v == version.version)
                .map(|(p, _)| p.0)
                .collect(),
        }
    }
}

/// Create (`POST`) or new version (`PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    /// Required on create; on edit, absent or unchanged (templates do not move between projects).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub project_id: Option<ProjectId>,
    /// Letters of any script, digits, `-`, `_`, `.`; unique in the project (case-insensitive).
    pub name: String,
    /// The model type (тип модели), see `/api/v1/model-types`.
    #[schema(value_type = String, format = Uuid)]
    pub model_type_id: ModelTypeId,
    /// The base model; `Базовая модель` when absent.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub base_model_id: Option<BaseModelId>,
    #[serde(default)]
    pub description: String,
    /// Defaults to `rotations_exposure_noise` (повороты + экспозиция + шум).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "rotations_exposure_noise")]
    pub augmentation: Augmentation,
    /// Technical parameters; missing fields take their defaults.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters: TechnicalParameters,
    /// A dataset of the same project to train on.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub dataset_id: Option<DatasetId>,
    /// The dataset version; the newest ready one when absent.
    pub dataset_version: Option<u32>,
    /// On edit: refuse with 409 unless the template is still at this version.
    pub expected_version: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateFilter {
    #[param(value_type = Option<String>, format = Uuid)]
    pub project_id: Option<ProjectId>,
    /// Names starting with this (case-insensitive).
    pub name: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub model_type_id: Option<ModelTypeId>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub base_model_id: Option<BaseModelId>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub dataset_id: Option<DatasetId>,
    /// Administrators: only this tenant's templates.
    #[param(value_type = Option<String>, format = Uuid)]
    pub tenant_id: Option<TenantId>,
}
