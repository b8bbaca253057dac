//! ZIP uploads. Entries are vetted before anything is inflated: paths must stay inside the
//! archive, declared sizes and compression ratios must be plausible; the inflated size of each
//! entry is then held to its declaration.

use super::error::{first_line, DatasetError};
use super::source::{is_image_name, Content, Entry};
use super::Limits;
use std::io::Read;
use std::path::{Path, PathBuf};

pub(super) fn read(zip_path: &Path, limits: &Limits) -> Result<Vec<Entry>, DatasetError> {
    let corrupt = |e: zip::result::ZipError| DatasetError::CorruptArchive {
        path: zip_path.to_path_buf(),
        reason: first_line(&e.to_string()),
    };
    let file = std::fs::File::open(zip_path).map_err(|e| DatasetError::io(zip_path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(corrupt)?;
    let mut total: u64 = 0;
    let mut out = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(corrupt)?;
        let raw_name = entry.name().map_err(corrupt)?.into_owned();
        // Not `join`: an absolute entry name would replace the archive path in the message.
        let shown = PathBuf::from(format!("{}/{raw_name}", zip_path.display()));
        let enclosed = entry.enclosed_name().filter(|p| !p.is_absolute());
        let Some(enclosed) = enclosed.filter(|_| !raw_name.starts_with('/')) else {
            return Err(DatasetError::UnsafePath { path: shown });
        };
        let parts: Vec<String> = enclosed
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if entry.is_dir() {
            out.push(Entry {
                parts,
                is_dir: true,
                content: Content::Dir,
            });
            continue;
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
        let mut bytes = Vec::with_capacity(declared.min(limits.max_entry_bytes) as usize);
        (&mut entry)
            .take(declared + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| DatasetError::CorruptArchive {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        if bytes.len() as u64 != declared {
            return Err(DatasetError::ZipBomb {
                path: shown,
                reason: "inflated size differs from the declared size".into(),
            });
        }
        out.push(Entry {
            parts,
            is_dir: false,
            content: Content::Bytes(bytes),
        });
    }
    Ok(out)
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
