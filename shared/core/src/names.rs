//! The house rules for names and free text, shared by every service so that a name valid in one
//! place is valid everywhere (the guide: letters, digits, hyphen, underscore and dot).

use crate::error::Rejection;

/// Names (tenants, projects, templates, …) follow the house rule: letters of any script, digits,
/// `-`, `_`, `.`; 1 to 64 characters.
pub fn check_name(field: &str, name: &str) -> Result<(), Rejection> {
    let length = name.chars().count();
    let valid = (1..=64).contains(&length)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_name",
            format!("`{field}` must be 1–64 letters, digits, `-`, `_` or `.`"),
        )
        .field(field))
    }
}

/// Free text (descriptions, display names): at most `max` characters, no control characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), Rejection> {
    if text.chars().count() <= max && !text.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_text",
            format!("`{field}` must be at most {max} printable characters"),
        )
        .field(field))
    }
}
