//! Committed snapshots (the OpenAPI documents, schemas): a test compares what the code generates
//! with the file in the repository. `UPDATE_SNAPSHOTS=1` rewrites the file instead, for a
//! developer who changed the contract on purpose and reviews the diff; under CI (`CI` set) that
//! variable is refused, so an inherited one cannot turn the check into a rewrite, and
//! `scripts/test.sh` clears it before running the suite.

use std::path::Path;

/// Set to rewrite snapshots instead of comparing them (never under CI).
pub const UPDATE_ENV: &str = "UPDATE_SNAPSHOTS";
/// Set by CI systems; snapshots are only compared there.
pub const CI_ENV: &str = "CI";

/// What a snapshot assertion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Compare,
    Update,
}

/// The mode for these environment values; asking to update under CI is an error.
pub fn mode(update: bool, ci: bool) -> Result<Mode, String> {
    match (update, ci) {
        (true, true) => Err(format!(
            "{UPDATE_ENV} is set under CI ({CI_ENV} is set): snapshots are only compared there"
        )),
        (true, false) => Ok(Mode::Update),
        (false, _) => Ok(Mode::Compare),
    }
}

/// Asserts that the file at `path` holds exactly `generated`, or rewrites it (see the module).
/// `name` is how the failure message refers to the file (e.g. `schemas/openapi/template.json`).
#[track_caller]
pub fn assert_snapshot(path: &Path, name: &str, generated: &str) {
    let env = |key| std::env::var_os(key).is_some_and(|v| !v.is_empty());
    let mode = mode(env(UPDATE_ENV), env(CI_ENV)).unwrap_or_else(|e| panic!("{e}"));
    if let Err(message) = check(path, name, generated, mode) {
        panic!("{message}");
    }
}

/// [`assert_snapshot`] with the mode given.
pub fn check(path: &Path, name: &str, generated: &str, mode: Mode) -> Result<(), String> {
    if mode == Mode::Update {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{name}: {e}"))?;
        }
        std::fs::write(path, generated).map_err(|e| format!("{name}: {e}"))?;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed == generated {
        Ok(())
    } else {
        Err(format!(
            "{name} is out of date; rerun with {UPDATE_ENV}=1 (not under CI) and review the diff"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_refuses_updates() {
        assert!(mode(true, true).is_err());
        assert_eq!(mode(true, false), Ok(Mode::Update));
        assert_eq!(mode(false, true), Ok(Mode::Compare));
    }

    #[test]
    fn compare_never_writes_and_update_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.json");
        std::fs::write(&path, "old").unwrap();
        assert!(check(&path, "doc", "new", Mode::Compare).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert!(check(&path, "doc", "new", Mode::Update).is_ok());
        assert!(check(&path, "doc", "new", Mode::Compare).is_ok());
    }
}
