//! Create, read, list, edit (a new version) and delete templates.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use trainyard_auth::{Auth, Entity, Right};
use trainyard_core::{EventId, Metadata, ProjectId, Rejection, TenantId, TrainingTemplateId};
use trainyard_platform::http::{ApiError, Json, ProblemDetails};

use super::links::{all_links, link_all, unlink_all, Link};
use super::{TemplateFilter, TemplateRequest, TemplateView};
use crate::bootstrap::BASE_MODEL;
use crate::domain::dataset::{Dataset, DatasetState};
use crate::domain::template::{
    DatasetRef, TemplateCommand, TemplateSpec, TemplateState, TrainingTemplate,
};
use crate::http::projects::{load_project, prefix_pattern};
use crate::http::sql::Filters;
use crate::http::{load_live, now, now_meta, precheck, Page, PageQuery};
use crate::state::AppState;
use crate::unique;

const NAME_TAKEN: (&str, &str, &str) = (
    "template_name_taken",
    "name",
    "a training template with this name already exists in the project",
);

/// Loads a live template the caller may see; 404 otherwise.
pub async fn load_template(
    state: &AppState,
    auth: &Auth,
    id: TrainingTemplateId,
) -> Result<TemplateState, ApiError> {
    let loaded = load_live::<TrainingTemplate>(
        state,
        auth,
        id,
        "training template",
        TemplateState::is_live,
        |t| Some(t.tenant_id),
    )
    .await?;
    Ok(loaded.state)
}

fn view(template: &TemplateState) -> Result<Json<TemplateView>, ApiError> {
    TemplateView::from_state(template)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("not_found", "no such training template"))
}

async fn holder_is_live(state: &AppState, holder: String) -> Result<unique::Holder, ApiError> {
    unique::holder::<TrainingTemplate>(&state.store, &holder, TemplateState::is_live).await
}

/// The spec a request asks for; a dataset without a version pins its newest ready version.
async fn spec_of(
    state: &AppState,
    auth: &Auth,
    project: ProjectId,
    request: &TemplateRequest,
) -> Result<TemplateSpec, ApiError> {
    let dataset = match request.dataset_id {
        None if request.dataset_version.is_some() => {
            return Err(Rejection::new(
                "dataset_version_without_dataset",
                "`dataset_version` needs `dataset_id`",
            )
            .field("dataset_version")
            .into())
        }
        None => None,
        Some(id) => {
            let unknown = || -> ApiError {
                Rejection::new("unknown_dataset", "no such dataset in the project")
                    .field("dataset_id")
                    .into()
            };
            let dataset =
                load_live::<Dataset>(state, auth, id, "dataset", DatasetState::is_live, |d| {
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
            if dataset.project_id != Some(project) {
                return Err(unknown());
            }
            let version = match request.dataset_version {
                Some(version) => version,
                None => dataset
                    .latest_ready()
                    .map(|v| v.version)
                    .ok_or_else(|| -> ApiError {
                        Rejection::new("dataset_not_ready", "the dataset has no ready version yet")
                            .field("dataset_id")
                            .into()
                    })?,
            };
            Some(DatasetRef {
                dataset_id: id,
                version,
            })
        }
    };
    Ok(TemplateSpec {
        model_type_id: request.model_type_id,
        base_model_id: request.base_model_id.unwrap_or(BASE_MODEL),
        description: request.description.clone(),
        augmentation: request.augmentation,
        parameters: request.parameters.clone(),
        dataset,
    })
}

#[utoipa::path(get, path = "/api/v1/training-templates", tag = "training-templates", security(("bearer" = [])), params(PageQuery, TemplateFilter),
    responses((status = 200, body = Page<TemplateView>), (status = 403, body = ProblemDetails)))]
pub async fn list_templates(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<PageQuery>,
    Query(filter): Query<TemplateFilter>,
) -> Result<Json<Page<TemplateView>>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    let tenant = auth.scope().filter(filter.tenant_id).map(|t| t.0);
    let (project, model_type) = (
        filter.project_id.map(|p| p.0),
        filter.model_type_id.map(|m| m.0),
    );
    let (base_model, dataset) = (
        filter.base_model_id.map(|b| b.0),
        filter.dataset_id.map(|d| d.0),
    );
    let name = prefix_pattern(filter.name.as_deref());
    let mut filters = Filters::default();
    filters
        .when("tenant_id = ?", &tenant)
        .when("project_id = ?", &project)
        .when("lower(name) LIKE ?", &name)
        .when("model_type_id = ?", &model_type)
        .when("base_model_id = ?", &base_model)
        .when("dataset_id = ?", &dataset);
    let columns =
        "id, tenant_id, project_id, name, version, model_type_id, base_model_id, description,
         augmentation, parameters, dataset_id, dataset_version, processes, created_at, updated_at";
    let rows = filters
        .fetch_page(
            &state.pool,
            columns,
            "template.templates",
            "lower(name), id",
            &page,
        )
        .await?;
    let items = rows.iter().map(row_view).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page.page(items)))
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(ApiError::internal)
}

fn row_view(row: &tokio_postgres::Row) -> Result<TemplateView, ApiError> {
    let version: i32 = row.get(4);
    let dataset: Option<uuid::Uuid> = row.get(10);
    let dataset_version: Option<i32> = row.get(11);
    let processes: i32 = row.get(12);
    Ok(TemplateView {
        id: TrainingTemplateId(row.get(0)),
        tenant_id: TenantId(row.get(1)),
        project_id: ProjectId(row.get(2)),
        name: row.get(3),
        version: u32::try_from(version).unwrap_or(0),
        model_type_id: trainyard_core::ModelTypeId(row.get(5)),
        base_model_id: trainyard_core::BaseModelId(row.get(6)),
        description: row.get(7),
        augmentation: parse(serde_json::Value::String(row.get(8)))?,
        parameters: parse(row.get(9))?,
        dataset: dataset
            .zip(dataset_version)
            .map(|(d, v)| super::DatasetLink {
                dataset_id: trainyard_core::DatasetId(d),
                version: u32::try_from(v).unwrap_or(0),
            }),
        processes: u32::try_from(processes).unwrap_or(0),
        created_at: row.get(13),
        updated_at: row.get(14),
    })
}

#[utoipa::path(post, path = "/api/v1/training-templates", tag = "training-templates", security(("bearer" = [])), request_body = TemplateRequest,
    responses((status = 201, body = TemplateView), (status = 403, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<TemplateRequest>,
) -> Result<(StatusCode, Json<TemplateView>), ApiError> {
    auth.require(Entity::TrainingTemplates, Right::Create)?;
    let project_id = request.project_id.ok_or_else(|| -> ApiError {
        Rejection::new("missing_field", "`project_id` is required")
            .field("project_id")
            .into()
    })?;
    let project = load_project(&state, &auth, project_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => Rejection::new("unknown_project", "no such project")
                .field("project_id")
                .into(),
            other => other,
        })?;
    if request.expected_version.is_some() {
        return Err(Rejection::new(
            "unexpected_field",
            "`expected_version` applies to edits only",
        )
        .field("expected_version")
        .into());
    }
    let spec = spec_of(&state, &auth, project_id, &request).await?;
    let id = TrainingTemplateId::new();
    let command = TemplateCommand::CreateTemplate {
        template_id: id,
        tenant_id: project.tenant_id,
        project_id,
        name: request.name.clone(),
        spec: spec.clone(),
        at: now(),
    };
    precheck::<TrainingTemplate>(&TemplateState::default(), &command)?;
    let meta = now_meta(&auth, project.tenant_id);
    let key = unique::template_name(project_id, &request.name);
    let owner = id.to_string();
    let links = Link::of(&spec);
    let write = async {
        link_all(&state, &meta, id, &links, &Default::default()).await?;
        let created = state
            .store
            .execute::<TrainingTemplate>(&owner, &meta, command, &[EventId::new()])
            .await;
        if let Err(error) = created {
            unlink_all(&state, &meta, id, &links).await?;
            return Err(ApiError::from(error));
        }
        Ok(())
    };
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::named(naming, None, key, |h| holder_is_live(&state, h), write).await?;
    let template = load_template(&state, &auth, id).await?;
    Ok((StatusCode::CREATED, view(&template)?))
}

#[utoipa::path(get, path = "/api/v1/training-templates/{id}", tag = "training-templates", security(("bearer" = [])),
    responses((status = 200, body = TemplateView), (status = 404, body = ProblemDetails)))]
pub async fn get_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
) -> Result<Json<TemplateView>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::View)?;
    view(&load_template(&state, &auth, id).await?)
}

#[utoipa::path(put, path = "/api/v1/training-templates/{id}", tag = "training-templates", security(("bearer" = [])), request_body = TemplateRequest,
    responses((status = 200, description = "the new current version (unchanged when nothing differs)", body = TemplateView),
        (status = 404, body = ProblemDetails), (status = 409, body = ProblemDetails), (status = 422, body = ProblemDetails)))]
pub async fn update_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
    Json(request): Json<TemplateRequest>,
) -> Result<Json<TemplateView>, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::Edit)?;
    let template = load_template(&state, &auth, id).await?;
    let project_id = template.project_id.unwrap_or_default();
    if request.project_id.is_some_and(|p| p != project_id) {
        return Err(
            Rejection::new("project_immutable", "a template stays in its project")
                .field("project_id")
                .into(),
        );
    }
    let spec = spec_of(&state, &auth, project_id, &request).await?;
    let command = TemplateCommand::EditTemplate {
        name: request.name.clone(),
        spec: spec.clone(),
        at: now(),
        expected_version: request.expected_version,
    };
    precheck::<TrainingTemplate>(&template, &command)?;
    let meta = now_meta(&auth, template.tenant_id);
    let current = template
        .current()
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let (from, to) = (
        unique::template_name(project_id, &current),
        unique::template_name(project_id, &request.name),
    );
    let owner = id.to_string();
    let write = edit(&state, &meta, &template, &spec, command);
    let naming = unique::Naming::new(&state.store, &meta, &owner, NAME_TAKEN);
    unique::named(naming, Some(from), to, |h| holder_is_live(&state, h), write).await?;
    view(&load_template(&state, &auth, id).await?)
}

/// Links what the new version adds, stores it, and unlinks those additions if it was refused.
async fn edit(
    state: &AppState,
    meta: &Metadata,
    template: &TemplateState,
    spec: &TemplateSpec,
    command: TemplateCommand,
) -> Result<(), ApiError> {
    let id = template.id.unwrap_or_default();
    let linked = all_links(template);
    let links = Link::of(spec);
    link_all(state, meta, id, &links, &linked).await?;
    let result = state
        .store
        .execute::<TrainingTemplate>(&id.to_string(), meta, command, &[EventId::new()])
        .await;
    if let Err(error) = result {
        let added: Vec<Link> = links
            .into_iter()
            .filter(|l| !linked.iter().any(|k| same_target(*k, *l)))
            .collect();
        unlink_all(state, meta, id, &added).await?;
        return Err(error.into());
    }
    Ok(())
}

fn same_target(a: Link, b: Link) -> bool {
    match (a, b) {
        (Link::Dataset(x, _), Link::Dataset(y, _)) => x == y,
        _ => a == b,
    }
}

#[utoipa::path(delete, path = "/api/v1/training-templates/{id}", tag = "training-templates", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = ProblemDetails), (status = 409, description = "processes still pin it", body = ProblemDetails)))]
pub async fn delete_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<TrainingTemplateId>,
) -> Result<StatusCode, ApiError> {
    auth.require(Entity::TrainingTemplates, Right::Delete)?;
    let template = load_template(&state, &auth, id).await?;
    let meta = now_meta(&auth, template.tenant_id);
    let owner = id.to_string();
    state
        .store
        .execute::<TrainingTemplate>(
            &owner,
            &meta,
            TemplateCommand::DeleteTemplate,
            &[EventId::new()],
        )
        .await?;
    let links: Vec<Link> = all_links(&template).into_iter().collect();
    unlink_all(&state, &meta, id, &links).await?;
    let name = template
        .current()
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let project = template.project_id.unwrap_or_default();
    unique::free(
        &state.store,
        &meta,
        &unique::template_name(project, &name),
        &owner,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
