//! ZIP uploads. The archive is vetted before anything is inflated: every local header must agree
//! with the central directory (the sizes checked below are the ones the data is read with), names
//! must be unique and stay inside the archive, links are refused, and declared sizes and
//! compression ratios must be plausible; the inflated size of each entry is then held to its
//! declaration, so an entry that lies about its size stops one byte past the lie.

use super::error::{first_line, DatasetError};
use super::source::{is_image_name, Content, Entry};
use super::Limits;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

pub(super) fn read(zip_path: &Path, limits: &Limits) -> Result<Vec<Entry>, DatasetError> {
    let corrupt = |e: zip::result::ZipError| DatasetError::CorruptArchive {
        path: zip_path.to_path_buf(),
        reason: first_line(&e.to_string()),
    };
    let file = std::fs::File::open(zip_path).map_err(|e| DatasetError::io(zip_path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(corrupt)?;
    // The reader keeps one entry per name, so the repeated one cannot be named here.
    if archive.has_duplicate_names() {
        return Err(DatasetError::DuplicateEntry {
            path: zip_path.to_path_buf(),
        });
    }
    archive
        .validate_header_consistency()
        .map_err(|e| inconsistent(zip_path, e))?;
    let mut total: u64 = 0;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        let raw_name = entry.name().map_err(corrupt)?.into_owned();
        // Not `join`: an absolute entry name would replace the archive path in the message.
        let shown = PathBuf::from(format!("{}/{raw_name}", zip_path.display()));
        let parts = components(&raw_name)
            .filter(|_| entry.enclosed_name().is_some() && !entry.is_symlink())
            .ok_or_else(|| DatasetError::UnsafePath {
                path: shown.clone(),
            })?;
        if entry.is_dir() || raw_name.ends_with('\\') {
            out.push(Entry {
                parts,
                is_dir: true,
                content: Content::Dir,
            });
            continue;
        }
        if !seen.insert(parts.clone()) {
            return Err(DatasetError::DuplicateEntry { path: shown });
        }
        let declared = entry.size();
        check_zip_entry(&shown, declared, entry.compressed_size(), total, limits)?;
        total += declared;
        if !is_image_name(&raw_name) {
            // Never inflated; still listed so that it counts as a skipped file.
            out.push(Entry {
                parts,
                is_dir: false,
                content: Content::Bytes(Vec::new()),
            });
            continue;
        }
        let bytes = inflate(&mut entry, declared, limits, &shown)?;
        out.push(Entry {
            parts,
            is_dir: false,
            content: Content::Bytes(bytes),
        });
    }
    Ok(out)
}

/// Inflates one entry, reading at most one byte more than `declared`: an entry that inflates to
/// more is refused as soon as that byte appears (the reader also stops once past the
/// declaration, with its own error), one that inflates to less as corrupt.
fn inflate(
    entry: &mut impl Read,
    declared: u64,
    limits: &Limits,
    shown: &Path,
) -> Result<Vec<u8>, DatasetError> {
    let bomb = || DatasetError::ZipBomb {
        path: shown.to_path_buf(),
        reason: "inflates past its declared size".into(),
    };
    let corrupt = |reason: String| DatasetError::CorruptArchive {
        path: shown.to_path_buf(),
        reason,
    };
    let mut bytes = Vec::with_capacity(declared.min(limits.max_entry_bytes) as usize);
    match entry.take(declared + 1).read_to_end(&mut bytes) {
        Err(e) if e.to_string().contains("larger than its declared") => Err(bomb()),
        Err(e) => Err(corrupt(first_line(&e.to_string()))),
        Ok(_) if bytes.len() as u64 > declared => Err(bomb()),
        Ok(_) if (bytes.len() as u64) < declared => Err(corrupt(format!(
            "inflates to {} bytes, {declared} declared",
            bytes.len()
        ))),
        Ok(_) => Ok(bytes),
    }
}

/// Headers that disagree: entries sharing their bytes are the classic non-recursive bomb; any
/// other difference (a local header naming another size or file) makes the archive mean two
/// things to two readers.
fn inconsistent(zip_path: &Path, e: zip::result::ZipError) -> DatasetError {
    let reason = first_line(&e.to_string());
    if reason.contains("overlapping") {
        DatasetError::ZipBomb {
            path: zip_path.to_path_buf(),
            reason,
        }
    } else {
        DatasetError::CorruptArchive {
            path: zip_path.to_path_buf(),
            reason,
        }
    }
}

/// The folders and file name of an entry, or `None` when the name could point outside the
/// archive: absolute (`/x`, `\x`, `C:x`), a `..` component or a NUL. Both `/` and `\` separate
/// components, since Windows tools write the latter; empty and `.` components are dropped.
fn components(name: &str) -> Option<Vec<String>> {
    let bytes = name.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if drive || name.starts_with(['/', '\\']) || name.contains('\0') {
        return None;
    }
    let mut parts = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part.to_string()),
        }
    }
    (!parts.is_empty()).then_some(parts)
}

fn check_zip_entry(
    shown: &Path,
    size: u64,
    compressed: u64,
    total_before: u64,
    limits: &Limits,
) -> Result<(), DatasetError> {
    let bomb = |reason: String| {
        Err(DatasetError::ZipBomb {
            path: shown.to_path_buf(),
            reason,
        })
    };
    if size > limits.max_entry_bytes {
        return bomb(format!(
            "entry inflates to {size} bytes (limit {})",
            limits.max_entry_bytes
        ));
    }
    if total_before + size > limits.max_total_bytes {
        return bomb(format!(
            "archive inflates to over {} bytes",
            limits.max_total_bytes
        ));
    }
    let ratio = size / compressed.max(1);
    if size >= limits.ratio_check_min_bytes && ratio > limits.max_zip_ratio {
        return bomb(format!(
            "compression ratio {ratio}:1 (limit {}:1)",
            limits.max_zip_ratio
        ));
    }
    Ok(())
}
