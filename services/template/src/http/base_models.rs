//! `/base-models`: architectures of the engine's zoo, optionally with initial weights. Every
//! signed-in user may read them (a template author picks one); only administrators create,
//! change or delete them and upload their weights. Uploaded weights are checked against the
//! architecture before they are stored in the checkpoints bucket.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use trainyard_auth::Auth;
use trainyard_core::training::Architecture;
use trainyard_core::{BaseModelId, EventId, Rejection};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::projects::prefix_pattern;
use super::sql::Filters;
use super::{load_live, now_meta, precheck, Page, PageQuery};
use crate::domain::base_model::{BaseModel, BaseModelCommand, BaseModelState, InitialWeights};
use crate::domain::INSTALLATION;
use crate::state::AppState;
use crate::unique;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_base_models, create_base_model))
        .routes(routes!(
            get_base_model,
            update_base_model,
            delete_base_model
        ))
        .routes(routes!(upload_weights, clear_weights))
}

/// An architecture of the engine's model zoo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArchitectureName {
    /// A small CNN for document pages, quick on a CPU.
    Base,
    /// A ResNet-18-class network, for GPUs.
    Resnet18,
}

impl From<ArchitectureName> for Architecture {
    fn from(name: ArchitectureName) -> Self {
        match name {
            ArchitectureName::Base => Architecture::Base,
            ArchitectureName::Resnet18 => Architecture::Resnet18,
        }
    }
}

impl From<Architecture> for ArchitectureName {
    fn from(architecture: Architecture) -> Self {
        match architecture {
            Architecture::Base => ArchitectureName::Base,
            Architecture::Resnet18 => ArchitectureName::Resnet18,
        }
    }
}

impl ArchitectureName {
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(text.to_owned())).ok()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BaseModelView {
    #[schema(value_type = String, format = Uuid)]
    pub id: BaseModelId,
    pub name: String,
    pub architecture: ArchitectureName,
    pub description: String,
    /// Where training starts from; absent: freshly initialised weights.
    pub weights: Option<InitialWeights>,
    /// How many training templates use this base model; it cannot be deleted while any do.
    pub templates: u32,
}

impl BaseModelView {
    fn from_state(state: &BaseModelState) -> Option<Self> {
        Some(Self {
            id: state.id?,
            name: state.name.clone(),
            architecture: state.architecture.into(),
            description: state.description.clone(),
            weights: state.weights.clone(),
            templates: u32::try_from(state.references.len()).unwrap_or(u32::MAX),
        })
    }
}

/// A model of the registry whose weights training starts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisteredModelRef {
    #[schema(value_type = String, format = Uuid)]
    pub model_id: Uuid,
    /// 1 or more.
    pub version: u32,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseModelCreate {
    /// Letters of any script, digits, `-`, `_`, `.`, spaces inside; unique in the installation
    /// (case-insensitive).
    pub name: String,
    pub architecture: ArchitectureName,
    #[serde(default)]
    pub description: String,
    /// Start training from a registered model's weights; upload a checkpoint with
    /// `PUT /api/v1/base-models/{id}/weights` instead.
    pub registered_model: Option<RegisteredModelRef>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseModelUpdate {
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BaseModelFilter {
    /// Names starting with this (case-insensitive).
    pub name: Option<String>,
    /// Only base models of this architecture.
    #[param(value_type = Option<ArchitectureName>)]
    pub architecture: Option<String>,
}

/// Loads a live base model; 404 otherwise.
pub async fn load_base_model(
    state: &AppState,
    auth: &Auth,
    id: BaseModelId,
) -> Result<BaseModelState, ApiError> {
    let loaded = load_live::<BaseModel>(
        state,
        auth,
        id,
        "base model",
        BaseModelState::is_live,
        |_| None,
    )
    .await?;
    Ok(loaded.state)
}

#[utoipa::path(get, path = "/api/v1/base-models", tag = "base-models", security(("bearer" = [])), params(PageQuery, BaseModelFilter),
    responses((status = 200, body = Page<BaseModelView>), (status = 401, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn list_base_models(
    State(state): State<AppState>,
    _auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<BaseModelFilter>,
) -> Result<Json<Page<BaseModelView>>, ApiError> {
    let architecture = filter
        .architecture
        .as_deref()
        .map(|text| {
            ArchitectureName::parse(text).ok_or_else(|| {
                ApiError::Unprocessable(
                    Rejection::new(
                        "invalid_architecture",
                        format!("unknown architecture `{text}` (base, resnet18)"),
                    )
                    .field("architecture"),
                )
            })
        })
        .transpose()?
        .map(|name| wire_name(Architecture::from(name)))
        .transpose()?;
    let name = prefix_pattern(filter.name.as_deref());
    let mut filters = Filters::default();
    filters
        .when("lower(name) LIKE ?", &name)
        .when("architecture = ?", &architecture);
    let columns = "id, name, architecture, description, weights, templates";
    let rows = filters
        .fetch_page(
            &state.pool,
            columns,
            "template.base_models",
            "lower(name), id",
            &page,
        )
        .await?;
    let items = rows
        .iter()
        .map(|row| {
            let architecture: String = row.get(2);
            let weights: Option<serde_json::Value> = row.get(4);
            let templates: i32 = row.get(5);
            Ok(BaseModelView {
                id: BaseModelId(row.get(0)),
                name: row.get(1),
                architecture: ArchitectureName::parse(&architecture).ok_or_else(|| {
                    ApiError::internal(anyhow::anyhow!(
                        "base model row with architecture `{architecture}`"
                    ))
                })?,
                description: row.get(3),
                weights: weights
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(ApiError::internal)?,
                templates: u32::try_from(templates).unwrap_or(0),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(page.page(items)))
}

/// How the read model spells an architecture.
fn wire_name(architecture: Architecture) -> Result<String, ApiError> {
    match serde_json::to_value(architecture).map_err(ApiError::internal)? {
        serde_json::Value::String(name) => Ok(name),
        other => Err(ApiError::internal(anyhow::anyhow!(
            "architecture serialised as {other}"
        ))),
    }
}

#[utoipa::path(post, path = "/api/v1/base-models", tag = "base-models", security(("bearer" = [])), request_body = BaseModelCreate,
    responses((status = 201, body = BaseModelView), (status = 403, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_base_model(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<BaseModelCreate>,
) -> Result<(StatusCode, Json<BaseModelView>), ApiError> {
    auth.require_administrator()?;
    let weights = match request.registered_model {
        None => None,
        Some(RegisteredModelRef { version: 0, .. }) => {
            return Err(ApiError::Unprocessable(
                Rejection::new("invalid_version", "model versions start at 1")
                    .field("registered_model.version"),
            ));
        }
        Some(RegisteredModelRef { model_id, version }) => {
            Some(InitialWeights::RegisteredModel { model_id, version })
        }
    };
    let id = BaseModelId::new();
    let command = BaseModelCommand::CreateBaseModel {
        base_model_id: id,
        name: request.name.clone(),
        architecture: request.architecture.into(),
        description: request.description,
        weights,
    };
    // Refuse a bad request before the name is reserved, so it changes nothing.
    precheck::<BaseModel>(&BaseModelState::default(), &command)?;
    let meta = now_meta(&auth, INSTALLATION);
    let key = unique::base_model_name(&request.name);
    let owner = id.to_string();
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<BaseModel>(naming, None, key, BaseModelState::is_live, command).await?;
    let base_model = load_base_model(&state, &auth, id).await?;
    let view = BaseModelView::from_state(&base_model).ok_or_else(gone)?;
    Ok((StatusCode::CREATED, Json(view)))
}

const NAME_TAKEN: (&str, &str, &str) = (
    "base_model_name_taken",
    "name",
    "a base model with this name already exists",
);

fn gone() -> ApiError {
    ApiError::not_found("not_found", "no such base model")
}

#[utoipa::path(get, path = "/api/v1/base-models/{id}", tag = "base-models", security(("bearer" = [])),
    responses((status = 200, body = BaseModelView), (status = 404, body = ProblemDetails)))]
pub async fn get_base_model(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<BaseModelId>,
) -> Result<Json<BaseModelView>, ApiError> {
    let base_model = load_base_model(&state, &auth, id).await?;
    BaseModelView::from_state(&base_model)
        .map(Json)
        .ok_or_else(gone)
}

#[utoipa::path(put, path = "/api/v1/base-models/{id}", tag = "base-models", security(("bearer" = [])), request_body = BaseModelUpdate,
    responses((status = 200, body = BaseModelView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_base_model(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<BaseModelId>,
    Json(request): Json<BaseModelUpdate>,
) -> Result<Json<BaseModelView>, ApiError> {
    auth.require_administrator()?;
    load_base_model(&state, &auth, id).await?;
    state
        .store
        .execute::<BaseModel>(
            &id.to_string(),
            &now_meta(&auth, INSTALLATION),
            BaseModelCommand::UpdateBaseModel {
                description: request.description,
            },
            &[EventId::new()],
        )
        .await?;
    let base_model = load_base_model(&state, &auth, id).await?;
    BaseModelView::from_state(&base_model)
        .map(Json)
        .ok_or_else(gone)
}

#[utoipa::path(delete, path = "/api/v1/base-models/{id}", tag = "base-models", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails)))]
pub async fn delete_base_model(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<BaseModelId>,
) -> Result<StatusCode, ApiError> {
    auth.require_administrator()?;
    let base_model = load_base_model(&state, &auth, id).await?;
    let meta = now_meta(&auth, INSTALLATION);
    let owner = id.to_string();
    // Refused with 409 `base_model_in_use` while a template refers to it.
    state
        .store
        .execute::<BaseModel>(
            &owner,
            &meta,
            BaseModelCommand::DeleteBaseModel,
            &[EventId::new()],
        )
        .await?;
    let key = unique::base_model_name(&base_model.name);
    unique::free(&state.store, &meta, &key, &owner).await?;
    if let Some(object) = checkpoint_object(base_model.weights.as_ref()) {
        discard_object(&state, object).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What an upload can fail with: any API error, or a body over the configured limit (413).
#[derive(Debug)]
pub enum UploadError {
    Api(ApiError),
    TooLarge { limit: u64 },
}

impl From<ApiError> for UploadError {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::TooLarge { limit } => ProblemDetails {
                field: Some("body".into()),
                ..ProblemDetails::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "upload_too_large",
                    format!("weights files are limited to {limit} bytes"),
                )
            }
            .into_response(),
        }
    }
}

/// An uploaded body on local disk, with its digest and size.
struct Spooled {
    file: tempfile::NamedTempFile,
    sha256: String,
    size: u64,
}

/// Writes `body` to a temporary file, hashing on the way; stops at `limit` bytes.
async fn spool(state: &AppState, body: Body, limit: u64) -> Result<Spooled, UploadError> {
    let dir = state.config.service.datasets.work_dir();
    let file = tempfile::Builder::new()
        .prefix("base-model-weights-")
        .suffix(".safetensors")
        .tempfile_in(&dir)
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context(format!("{dir:?}"))))?;
    let mut writer = tokio::fs::File::from_std(file.as_file().try_clone().map_err(internal)?);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::bad_request("invalid_body", format!("the upload broke off: {error}"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge { limit });
        }
        hasher.update(&chunk);
        writer.write_all(&chunk).await.map_err(internal)?;
    }
    writer.flush().await.map_err(internal)?;
    writer.sync_all().await.map_err(internal)?;
    Ok(Spooled {
        file,
        sha256: hex::encode(hasher.finalize()),
        size,
    })
}

fn internal(error: std::io::Error) -> ApiError {
    ApiError::internal(error)
}

/// The object name of a base model's uploaded weights.
fn object_name(id: BaseModelId, sha256: &str) -> String {
    format!("base-models/{id}/{sha256}.safetensors")
}

fn checkpoint_object(weights: Option<&InitialWeights>) -> Option<&str> {
    match weights {
        Some(InitialWeights::Checkpoint { object, .. }) => Some(object),
        _ => None,
    }
}

/// Deletes an object nothing refers to any more; a failure only leaves an orphan behind.
async fn discard_object(state: &AppState, object: &str) {
    use trainyard_platform::object_store::ObjectStoreError;
    match state.checkpoints.delete(object).await {
        Ok(()) | Err(ObjectStoreError::NotFound { .. }) => {}
        Err(error) => tracing::warn!(%error, object, "unreferenced weights not deleted"),
    }
}

#[utoipa::path(put, path = "/api/v1/base-models/{id}/weights", tag = "base-models", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "A safetensors file: the architecture's variables, bare or prefixed `model.` as in a training checkpoint."),
    responses((status = 200, body = BaseModelView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails),
        (status = 413, body = ProblemDetails), (status = 422, body = ProblemDetails, description = "`invalid_weights` (not safetensors) or `weights_mismatch` (not this architecture)")))]
pub async fn upload_weights(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<BaseModelId>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<BaseModelView>, UploadError> {
    auth.require_administrator()?;
    let base_model = load_base_model(&state, &auth, id).await?;
    let limit = state.config.service.base_models.max_weights_bytes;
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit) {
        return Err(UploadError::TooLarge { limit });
    }
    let spooled = spool(&state, body, limit).await?;
    let path = spooled.file.path().to_path_buf();
    let architecture = base_model.architecture;
    let matched =
        tokio::task::spawn_blocking(move || crate::weights::check_file(&path, architecture))
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("checking weights failed: {e}")))?
            .map_err(ApiError::from)?;
    let object = object_name(id, &spooled.sha256);
    let previous = checkpoint_object(base_model.weights.as_ref()).map(str::to_owned);
    let mut reader = tokio::fs::File::open(spooled.file.path())
        .await
        .map_err(internal)?;
    let stored = state
        .checkpoints
        .put(&object, &mut reader)
        .await
        .map_err(ApiError::unavailable)?;
    let replaces_current = previous.as_deref() == Some(object.as_str());
    if stored.sha256 != spooled.sha256 || stored.size != spooled.size {
        if !replaces_current {
            discard_object(&state, &object).await;
        }
        return Err(ApiError::internal(anyhow::anyhow!(
            "stored weights {object} read back as {} ({} bytes), uploaded {} ({} bytes)",
            stored.sha256,
            stored.size,
            spooled.sha256,
            spooled.size
        ))
        .into());
    }
    let weights = InitialWeights::Checkpoint {
        object: object.clone(),
        sha256: spooled.sha256.clone(),
        size: spooled.size,
        matched_tensors: matched,
    };
    if let Err(error) = state
        .store
        .execute::<BaseModel>(
            &id.to_string(),
            &now_meta(&auth, INSTALLATION),
            BaseModelCommand::SetInitialWeights {
                weights: Some(weights),
            },
            &[EventId::new()],
        )
        .await
    {
        if !replaces_current {
            discard_object(&state, &object).await;
        }
        return Err(ApiError::from(error).into());
    }
    if let Some(previous) = previous.filter(|previous| *previous != object) {
        discard_object(&state, &previous).await;
    }
    let base_model = load_base_model(&state, &auth, id).await?;
    Ok(BaseModelView::from_state(&base_model)
        .map(Json)
        .ok_or_else(gone)?)
}

#[utoipa::path(delete, path = "/api/v1/base-models/{id}/weights", tag = "base-models", security(("bearer" = [])),
    responses((status = 200, body = BaseModelView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails)))]
pub async fn clear_weights(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<BaseModelId>,
) -> Result<Json<BaseModelView>, ApiError> {
    auth.require_administrator()?;
    let base_model = load_base_model(&state, &auth, id).await?;
    state
        .store
        .execute::<BaseModel>(
            &id.to_string(),
            &now_meta(&auth, INSTALLATION),
            BaseModelCommand::SetInitialWeights { weights: None },
            &[EventId::new()],
        )
        .await?;
    if let Some(object) = checkpoint_object(base_model.weights.as_ref()) {
        discard_object(&state, object).await;
    }
    let base_model = load_base_model(&state, &auth, id).await?;
    BaseModelView::from_state(&base_model)
        .map(Json)
        .ok_or_else(gone)
}
