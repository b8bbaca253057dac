//! A description of a dataset for people: images per class, sizes and formats.

use super::decode::Header;
use super::source::{RawDataset, SplitName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub name: String,
    pub images: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub source: String,
    pub classes: Vec<ClassStats>,
    pub images: usize,
    /// Files that are not images of a supported format (ignored).
    pub skipped_files: usize,
    /// Image count per format, e.g. `png`.
    pub formats: BTreeMap<String, usize>,
    /// Image count per `WIDTHxHEIGHT`.
    pub sizes: BTreeMap<String, usize>,
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    pub any_color: bool,
    /// True when the data came with `train/` and `test/` folders.
    pub explicit_split: bool,
    pub explicit_test_images: usize,
    pub digest: String,
}

pub(crate) fn describe(
    root: &Path,
    raw: &RawDataset,
    headers: &[Header],
    digest: String,
) -> DatasetStats {
    let mut per_class: BTreeMap<&str, usize> =
        raw.classes.iter().map(|c| (c.as_str(), 0)).collect();
    let (mut formats, mut sizes) = (BTreeMap::new(), BTreeMap::new());
    for (f, h) in raw.files.iter().zip(headers) {
        *per_class.entry(f.class.as_str()).or_default() += 1;
        let format = h
            .format
            .extensions_str()
            .first()
            .copied()
            .unwrap_or("unknown");
        *formats.entry(format.to_string()).or_default() += 1;
        *sizes
            .entry(format!("{}x{}", h.width, h.height))
            .or_default() += 1;
    }
    let dim = |f: fn(&Header) -> u32| headers.iter().map(f);
    DatasetStats {
        source: root.display().to_string(),
        classes: per_class
            .into_iter()
            .map(|(name, images)| ClassStats {
                name: name.to_string(),
                images,
            })
            .collect(),
        images: raw.files.len(),
        skipped_files: raw.skipped,
        formats,
        sizes,
        min_width: dim(|h| h.width).min().unwrap_or(0),
        max_width: dim(|h| h.width).max().unwrap_or(0),
        min_height: dim(|h| h.height).min().unwrap_or(0),
        max_height: dim(|h| h.height).max().unwrap_or(0),
        any_color: headers.iter().any(|h| h.has_color),
        explicit_split: raw.explicit_split,
        explicit_test_images: raw
            .files
            .iter()
            .filter(|f| f.split == Some(SplitName::Test))
            .count(),
        digest,
    }
}

impl DatasetStats {
    /// Stats of a generated, uniformly sized, grayscale PNG dataset.
    pub fn synthetic(classes: &[String], per_class: usize, size: u32, digest: &str) -> Self {
        let images = classes.len() * per_class;
        DatasetStats {
            source: "synthetic".into(),
            classes: classes
                .iter()
                .map(|c| ClassStats {
                    name: c.clone(),
                    images: per_class,
                })
                .collect(),
            images,
            skipped_files: 0,
            formats: [("png".to_string(), images)].into(),
            sizes: [(format!("{size}x{size}"), images)].into(),
            min_width: size,
            max_width: size,
            min_height: size,
            max_height: size,
            any_color: false,
            explicit_split: false,
            explicit_test_images: 0,
            digest: digest.into(),
        }
    }
}
