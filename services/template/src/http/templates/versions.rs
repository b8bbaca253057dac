//! A template's immutable versions, the processes that pin them, and the parameters' schema.
//!
//! Pins are how the scheduler records "this process was created from version N": a pinned
//! template cannot be deleted, and the pinned version stays readable whatever edits follow.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::training::TechnicalParameters;
use trainyard_core::{EventId, TrainingProcessId, TrainingTemplateId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::ToSchema;

use super::{load_template, VersionView};
use crate::domain::template::{TemplateCommand, TrainingTemplate};
use crate::http::now_meta;
use crate::state::AppState;

/// The JSON Schema (draft 2020-12) of `parameters`, with defaults and bounds.
#[utoipa::path(get, path = "/api/v1/training-templates/parameters-schema", tag = "training-templates", security(("bearer" = [])),
    responses((status = 200, body = Object)))]
pub async fn parameters_schema(_auth: Auth) -> axum::Json<serde_json::Value> {
    axum::Json(TechnicalParameters::json_schema())
}

#[utoipa::path(get, path = "/api/v1/training-templates/{id}/versions", tag = "training-templates", security(("bearer" = [])),
    responses((status = 200, body = Vec<VersionView>), (status = 404, body = ProblemDetails)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let template = load_template(&state, &auth, id).await?;
    Ok(Json(
        template
            .versions
            .iter()
            .map(|v| VersionView::new(&template, v))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/training-templates/{id}/versions/{version}", tag = "training-templates", security(("bearer" = [])),
    responses((status = 200, body = VersionView), (status = 404, body = ProblemDetails)))]
pub async fn get_version(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, version)): Path<(uuid::Uuid, u32)>,
) -> Result<Json<VersionView>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let id = TrainingTemplateId(id);
    let template = load_template(&state, &auth, id).await?;
    let found = template
        .version(version)
        .ok_or_else(|| ApiError::not_found("not_found", "no such template version"))?;
    Ok(Json(VersionView::new(&template, found)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PinView {
    #[schema(value_type = String, format = Uuid)]
    pub process_id: TrainingProcessId,
    pub version: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    #[schema(value_type = String, format = Uuid)]
    pub process_id: TrainingProcessId,
    /// The current version when absent.
    pub version: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/training-templates/{id}/pins", tag = "training-templates", security(("bearer" = [])),
    responses((status = 200, body = Vec<PinView>), (status = 404, body = ProblemDetails)))]
pub async fn list_pins(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
) -> Result<Json<Vec<PinView>>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let template = load_template(&state, &auth, id).await?;
    Ok(Json(
        template
            .pins
            .iter()
            .map(|(process_id, version)| PinView {
                process_id: *process_id,
                version: *version,
            })
            .collect(),
    ))
}

/// Records that a training process was created from a version (called by the scheduler with
/// the caller's process rights). Repeating it is harmless.
#[utoipa::path(post, path = "/api/v1/training-templates/{id}/pins", tag = "training-templates", security(("bearer" = [])), request_body = PinRequest,
    responses((status = 200, body = PinView), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn pin_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
    Json(request): Json<PinRequest>,
) -> Result<Json<PinView>, ApiError> {
    auth.require(Entity::TrainingProcesses, Right::Create)?;
    let template = load_template(&state, &auth, id).await?;
    let meta = now_meta(&auth, template.tenant_id);
    let command = TemplateCommand::PinTemplate {
        process_id: request.process_id,
        version: request.version,
    };
    state
        .store
        .execute::<TrainingTemplate>(&id.to_string(), &meta, command, &[EventId::new()])
        .await?;
    let template = load_template(&state, &auth, id).await?;
    let version = template
        .pins
        .get(&request.process_id)
        .copied()
        .ok_or_else(|| ApiError::not_found("not_found", "no such pin"))?;
    Ok(Json(PinView {
        process_id: request.process_id,
        version,
    }))
}

/// Forgets a process (deleted by the scheduler). Forgetting an unknown process is harmless.
#[utoipa::path(delete, path = "/api/v1/training-templates/{id}/pins/{process_id}", tag = "training-templates", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ProblemDetails)))]
pub async fn unpin_template(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, process_id)): Path<(uuid::Uuid, uuid::Uuid)>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::TrainingProcesses, Right::Delete)?;
    let (id, process_id) = (TrainingTemplateId(id), TrainingProcessId(process_id));
    let template = load_template(&state, &auth, id).await?;
    let meta = now_meta(&auth, template.tenant_id);
    state
        .store
        .execute::<TrainingTemplate>(
            &id.to_string(),
            &meta,
            TemplateCommand::UnpinTemplate { process_id },
            &[EventId::new()],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
