//! The dataset boundary's error type: every variant has a stable code and names the offending
//! file or folder, because these errors are shown to the person who uploaded the data.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: not found")]
    NotFound { path: PathBuf },
    #[error("{path}: cannot be read: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{path}: not a readable ZIP archive: {reason}")]
    CorruptArchive { path: PathBuf, reason: String },
    #[error("{path}: archive entry escapes its folder")]
    UnsafePath { path: PathBuf },
    #[error("{path}: archive holds more than one entry of this name")]
    DuplicateEntry { path: PathBuf },
    #[error("{path}: archive looks like a decompression bomb: {reason}")]
    ZipBomb { path: PathBuf, reason: String },
    #[error("{path}: unreadable or truncated image: {reason}")]
    CorruptImage { path: PathBuf, reason: String },
    #[error("{path}: image of {width}x{height} pixels exceeds the limit of {limit} pixels")]
    ImageTooLarge {
        path: PathBuf,
        width: u64,
        height: u64,
        limit: u64,
    },
    #[error("{path}: class folder holds no images")]
    EmptyClass { path: PathBuf },
    #[error("{path}: found {found} class folder(s), at least 2 are needed")]
    TooFewClasses { path: PathBuf, found: usize },
    #[error("{path}: class is in the test folder but not in the train folder")]
    UnknownTestClass { path: PathBuf },
    #[error("{path}: line {line}: {reason}")]
    BadCsv {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: dataset cache unusable: {reason}")]
    Cache { path: PathBuf, reason: String },
    #[error("invalid dataset option: {reason}")]
    BadOption { reason: String },
}

impl DatasetError {
    /// Stable machine-readable code, e.g. `dataset.corrupt_image`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "dataset.not_found",
            Self::Io { .. } => "dataset.io",
            Self::CorruptArchive { .. } => "dataset.corrupt_archive",
            Self::UnsafePath { .. } => "dataset.unsafe_path",
            Self::DuplicateEntry { .. } => "dataset.duplicate_entry",
            Self::ZipBomb { .. } => "dataset.zip_bomb",
            Self::CorruptImage { .. } => "dataset.corrupt_image",
            Self::ImageTooLarge { .. } => "dataset.image_too_large",
            Self::EmptyClass { .. } => "dataset.empty_class",
            Self::TooFewClasses { .. } => "dataset.too_few_classes",
            Self::UnknownTestClass { .. } => "dataset.unknown_test_class",
            Self::BadCsv { .. } => "dataset.bad_csv",
            Self::Cache { .. } => "dataset.cache",
            Self::BadOption { .. } => "dataset.bad_option",
        }
    }

    /// The file or folder the error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::NotFound { path }
            | Self::Io { path, .. }
            | Self::CorruptArchive { path, .. }
            | Self::UnsafePath { path }
            | Self::DuplicateEntry { path }
            | Self::ZipBomb { path, .. }
            | Self::CorruptImage { path, .. }
            | Self::ImageTooLarge { path, .. }
            | Self::EmptyClass { path }
            | Self::TooFewClasses { path, .. }
            | Self::UnknownTestClass { path }
            | Self::BadCsv { path, .. }
            | Self::Cache { path, .. } => Some(path),
            Self::BadOption { .. } => None,
        }
    }

    pub(crate) fn io(path: &Path, err: impl std::fmt::Display) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            reason: first_line(&err.to_string()),
        }
    }
}

/// The first line of a message; libtorch appends C++ backtraces after it.
pub fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}
