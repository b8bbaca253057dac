//! `/model-types`: installation-wide task kinds. Every signed-in user may read them (a template
//! author picks one); only administrators create, change or delete them. A name is fixed after
//! creation: it routes inference.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trainyard_auth::Auth;
use trainyard_core::{EventId, ModelTypeId, Rejection};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::sql::Filters;
use super::{load_live, now_meta, precheck, Page, PageQuery};
use crate::domain::model_type::{Goal, ModelType, ModelTypeCommand, ModelTypeState};
use crate::domain::INSTALLATION;
use crate::state::AppState;
use crate::unique;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_model_types, create_model_type))
        .routes(routes!(
            get_model_type,
            update_model_type,
            delete_model_type
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelTypeView {
    #[schema(value_type = String, format = Uuid)]
    pub id: ModelTypeId,
    pub name: String,
    pub description: String,
    pub goal: Goal,
    /// A JSON object.
    #[schema(value_type = Object)]
    pub configuration: serde_json::Value,
    /// How many training templates use this model type; it cannot be deleted while any do.
    pub templates: u32,
}

impl ModelTypeView {
    fn from_state(state: &ModelTypeState) -> Option<Self> {
        Some(Self {
            id: state.id?,
            name: state.name.clone(),
            description: state.description.clone(),
            goal: state.goal,
            configuration: state.configuration.clone(),
            templates: u32::try_from(state.references.len()).unwrap_or(u32::MAX),
        })
    }
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelTypeCreate {
    /// Letters of any script, digits, `-`, `_`, `.`; unique in the installation (case-sensitive).
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub goal: Goal,
    /// A JSON object of at most 16 KiB; `{}` when left out.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub configuration: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelTypeUpdate {
    /// The name cannot change; when given, it must equal the current one.
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub goal: Goal,
    /// A JSON object of at most 16 KiB; `{}` when left out.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub configuration: serde_json::Value,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelTypeFilter {
    /// Names starting with this (case-sensitive, like the names themselves).
    pub name: Option<String>,
}

/// Loads a live model type; 404 otherwise.
pub async fn load_model_type(
    state: &AppState,
    auth: &Auth,
    id: ModelTypeId,
) -> Result<ModelTypeState, ApiError> {
    let loaded = load_live::<ModelType>(
        state,
        auth,
        id,
        "model type",
        ModelTypeState::is_live,
        |_| None,
    )
    .await?;
    Ok(loaded.state)
}

/// A `LIKE` pattern matching names that start with `prefix`, case-sensitively.
fn exact_prefix_pattern(prefix: Option<&str>) -> Option<String> {
    prefix.map(|p| {
        let escaped = p
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("{escaped}%")
    })
}

#[utoipa::path(get, path = "/api/v1/model-types", tag = "model-types", security(("bearer" = [])), params(PageQuery, ModelTypeFilter),
    responses((status = 200, body = Page<ModelTypeView>), (status = 401, body = ProblemDetails)))]
pub async fn list_model_types(
    State(state): State<AppState>,
    _auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<ModelTypeFilter>,
) -> Result<Json<Page<ModelTypeView>>, ApiError> {
    let name = exact_prefix_pattern(filter.name.as_deref());
    let mut filters = Filters::default();
    filters.when("name LIKE ?", &name);
    let columns = "id, name, description, goal, configuration, templates";
    let rows = filters
        .fetch_page(
            &state.pool,
            columns,
            "template.model_types",
            "name, id",
            &page,
        )
        .await?;
    let items = rows
        .iter()
        .map(|row| {
            let goal: String = row.get(3);
            let templates: i32 = row.get(5);
            Ok(ModelTypeView {
                id: ModelTypeId(row.get(0)),
                name: row.get(1),
                description: row.get(2),
                goal: serde_json::from_value(serde_json::Value::String(goal))
                    .map_err(ApiError::internal)?,
                configuration: row.get(4),
                templates: u32::try_from(templates).unwrap_or(0),
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(page.page(items)))
}

#[utoipa::path(post, path = "/api/v1/model-types", tag = "model-types", security(("bearer" = [])), request_body = ModelTypeCreate,
    responses((status = 201, body = ModelTypeView), (status = 403, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_model_type(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<ModelTypeCreate>,
) -> Result<(StatusCode, Json<ModelTypeView>), ApiError> {
    auth.require_administrator()?;
    let id = ModelTypeId::new();
    let command = ModelTypeCommand::CreateModelType {
        model_type_id: id,
        name: request.name.clone(),
        description: request.description,
        goal: request.goal,
        configuration: request.configuration,
    };
    // Refuse a bad request before the name is reserved, so it changes nothing.
    precheck::<ModelType>(&ModelTypeState::default(), &command)?;
    let meta = now_meta(&auth, INSTALLATION);
    let key = unique::model_type_name(&request.name);
    let owner = id.to_string();
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::execute_named::<ModelType>(naming, None, key, ModelTypeState::is_live, command).await?;
    let model_type = load_model_type(&state, &auth, id).await?;
    let view = ModelTypeView::from_state(&model_type).ok_or_else(gone)?;
    Ok((StatusCode::CREATED, Json(view)))
}

const NAME_TAKEN: (&str, &str, &str) = (
    "model_type_name_taken",
    "name",
    "a model type with this name already exists",
);

fn gone() -> ApiError {
    ApiError::not_found("not_found", "no such model type")
}

#[utoipa::path(get, path = "/api/v1/model-types/{id}", tag = "model-types", security(("bearer" = [])),
    responses((status = 200, body = ModelTypeView), (status = 404, body = ProblemDetails)))]
pub async fn get_model_type(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ModelTypeId>,
) -> Result<Json<ModelTypeView>, ApiError> {
    let model_type = load_model_type(&state, &auth, id).await?;
    ModelTypeView::from_state(&model_type)
        .map(Json)
        .ok_or_else(gone)
}

#[utoipa::path(put, path = "/api/v1/model-types/{id}", tag = "model-types", security(("bearer" = [])), request_body = ModelTypeUpdate,
    responses((status = 200, body = ModelTypeView), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_model_type(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ModelTypeId>,
    Json(request): Json<ModelTypeUpdate>,
) -> Result<Json<ModelTypeView>, ApiError> {
    auth.require_administrator()?;
    let model_type = load_model_type(&state, &auth, id).await?;
    if request
        .name
        .as_ref()
        .is_some_and(|name| *name != model_type.name)
    {
        return Err(ApiError::Unprocessable(
            Rejection::new(
                "name_immutable",
                "a model type's name cannot change (it routes inference); create another model type",
            )
            .field("name"),
        ));
    }
    let command = ModelTypeCommand::UpdateModelType {
        description: request.description,
        goal: request.goal,
        configuration: request.configuration,
    };
    state
        .store
        .execute::<ModelType>(
            &id.to_string(),
            &now_meta(&auth, INSTALLATION),
            command,
            &[EventId::new()],
        )
        .await?;
    let model_type = load_model_type(&state, &auth, id).await?;
    ModelTypeView::from_state(&model_type)
        .map(Json)
        .ok_or_else(gone)
}

#[utoipa::path(delete, path = "/api/v1/model-types/{id}", tag = "model-types", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = ProblemDetails), (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails)))]
pub async fn delete_model_type(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<ModelTypeId>,
) -> Result<StatusCode, ApiError> {
    auth.require_administrator()?;
    let model_type = load_model_type(&state, &auth, id).await?;
    let meta = now_meta(&auth, INSTALLATION);
    let owner = id.to_string();
    // Refused with 409 `model_type_in_use` while a template refers to it.
    state
        .store
        .execute::<ModelType>(
            &owner,
            &meta,
            ModelTypeCommand::DeleteModelType,
            &[EventId::new()],
        )
        .await?;
    let key = unique::model_type_name(&model_type.name);
    unique::free(&state.store, &meta, &key, &owner).await?;
    Ok(StatusCode::NO_CONTENT)
}
