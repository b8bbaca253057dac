//! The template service's REST API under `/api/v1`: one module per resource, each handler
//! documented with `#[utoipa::path]` so the OpenAPI document is generated from the code.

pub mod base_models;
pub mod datasets;
mod load;
pub mod model_types;
pub mod projects;
pub mod sql;
pub mod templates;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use load::{load_live, now, now_meta, precheck};
pub use trainyard_platform::http::{Page, PageQuery};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Trainyard templates", description = "Projects, model types, base models, datasets and versioned training templates."),
    modifiers(&BearerScheme),
    tags((name = "projects"), (name = "model-types"), (name = "base-models"), (name = "datasets"), (name = "training-templates"))
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every route with its OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(projects::routes())
        .merge(templates::routes())
        .merge(model_types::routes())
        .merge(base_models::routes())
        .merge(datasets::routes())
}

/// The OpenAPI document (also what the snapshot test compares).
pub fn openapi() -> OpenApiDoc {
    api().split_for_parts().1
}
