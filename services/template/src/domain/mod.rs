//! The template service's aggregates. Each is pure: `handle` decides from the loaded state and a
//! command that already carries the clock and new ids; `apply` folds events. Rules that span
//! aggregates (unique names, "cannot be deleted while referenced") are kept by the HTTP layer
//! with reservations and reference commands, in an order that never leaves a half-done change.

pub mod base_model;
pub mod dataset;
pub mod model_type;
pub mod project;
pub mod references;
pub mod template;

pub use trainyard_core::names::{check_name, check_text};
use trainyard_core::{Rejection, TenantId};

/// The tenant recorded on events of installation-wide aggregates (model types, base models).
pub const INSTALLATION: TenantId = TenantId(uuid::Uuid::nil());

/// Longest description accepted anywhere.
pub const DESCRIPTION_MAX: usize = 2000;

pub(crate) fn gone(what: &str) -> Rejection {
    Rejection::not_found("not_found", format!("no such {what}"))
}

/// Descriptions may span lines; other control characters are refused.
pub fn check_description(text: &str) -> Result<(), Rejection> {
    let printable = text
        .chars()
        .all(|c| !c.is_control() || c == '\n' || c == '\t');
    if printable && text.chars().count() <= DESCRIPTION_MAX {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_text",
            format!("`description` must be at most {DESCRIPTION_MAX} printable characters"),
        )
        .field("description"))
    }
}
