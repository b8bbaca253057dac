//! Identity's REST API under `/api/v1`: one module per resource, each handler documented with
//! `#[utoipa::path]` so the OpenAPI document is generated from the code it describes.

/// `Debug` for request and response types that carry secrets: prints only the type name, so a
/// stray `{:?}` can never put a password or key into a log line.
macro_rules! redacted_debug {
    ($($t:ty),* $(,)?) => {
        $(impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($t), " { <redacted> }"))
            }
        })*
    };
}

pub mod audit;
pub mod auth;
pub mod roles;
pub mod service_accounts;
pub mod tenants;
pub mod user_actions;
pub mod users;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

pub use trainyard_platform::http::{Page, PageQuery};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Trainyard identity", description = "Tenants, users, roles, service accounts, tokens and the audit journal."),
    modifiers(&BearerScheme),
    tags((name = "auth"), (name = "tenants"), (name = "users"), (name = "roles"), (name = "service-accounts"), (name = "audit"))
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
        .merge(auth::routes())
        .merge(tenants::routes())
        .merge(users::routes())
        .merge(user_actions::routes())
        .merge(roles::routes())
        .merge(service_accounts::routes())
        .merge(audit::routes())
}

/// The OpenAPI document (also what the snapshot test compares).
pub fn openapi() -> OpenApiDoc {
    api().split_for_parts().1
}
