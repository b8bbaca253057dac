//! "Cannot be deleted while referenced": model types and base models record which templates use
//! them. A template adds its reference before it is created and removes it after it is deleted,
//! so a deleted model type or base model is never referenced by a live template, even when the
//! requests race (both sides are appends with an expected sequence on the referenced aggregate).

use std::collections::BTreeSet;

use trainyard_core::{Rejection, TrainingTemplateId};

/// Templates referring to one aggregate.
pub type References = BTreeSet<TrainingTemplateId>;

/// What a reference command decides: `None` when it changes nothing (a retried request).
pub fn add(references: &References, template: TrainingTemplateId) -> Option<TrainingTemplateId> {
    (!references.contains(&template)).then_some(template)
}

pub fn remove(references: &References, template: TrainingTemplateId) -> Option<TrainingTemplateId> {
    references.contains(&template).then_some(template)
}

/// Refuses deletion while templates refer to the aggregate.
pub fn ensure_unreferenced(
    references: &References,
    code: &str,
    what: &str,
) -> Result<(), Rejection> {
    if references.is_empty() {
        return Ok(());
    }
    Err(Rejection::conflict(
        code,
        format!(
            "the {what} is used by {} training template(s); delete or change them first",
            references.len()
        ),
    ))
}
