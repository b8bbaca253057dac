//! The OpenAPI side of authentication: the `bearer` security scheme every service's document
//! declares and every protected operation names (`security(("bearer" = []))`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;

/// Adds the `bearer` scheme (a JWT in `Authorization: Bearer …`); use it as
/// `#[openapi(modifiers(&trainyard_auth::BearerScheme))]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
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
