//! Datasets: ImageFolder folders and ZIPs (and MNIST CSVs) turned into cached `u8` tensors with
//! a deterministic train/test split and the preprocessing that produced them.
//!
//! Public entry points: [`validate`] (check an upload and describe it without training) and
//! [`load`] (everything training needs). Errors are [`DatasetError`], each with a stable code.

mod archive;
mod cache;
mod decode;
pub mod error;
pub mod mnist;
mod source;
mod split;
mod stats;
mod tensors;

pub use decode::convert;
pub use error::DatasetError;
pub use split::stratified as stratified_split;
pub use stats::{ClassStats, DatasetStats};
pub use tensors::channel_stats;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// How an image is brought to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Bilinear (triangle filter) resize to exactly the input size, ignoring the aspect ratio.
    #[default]
    Stretch,
    /// Bilinear resize keeping the aspect ratio, centred on a white canvas.
    FitPad,
}

impl ResizeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stretch => "stretch",
            Self::FitPad => "fit_pad",
        }
    }
}

/// Everything between a stored image and the model's input tensor. Pixels are scaled to [0, 1],
/// then normalised per channel with `(x - mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    pub resize: ResizeMode,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Safety limits applied while reading untrusted uploads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    /// Largest decoded image, in pixels (width × height).
    pub max_pixels: u64,
    /// Largest inflated ZIP entry, in bytes.
    pub max_entry_bytes: u64,
    /// Largest inflated ZIP content in total, in bytes.
    pub max_total_bytes: u64,
    /// Highest compression ratio accepted for entries of at least `ratio_check_min_bytes`.
    pub max_zip_ratio: u64,
    pub ratio_check_min_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_pixels: 64 << 20,
            max_entry_bytes: 512 << 20,
            max_total_bytes: 8 << 30,
            max_zip_ratio: 100,
            ratio_check_min_bytes: 16 << 20,
        }
    }
}

/// Options for [`load`] and [`validate`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadOptions {
    /// Square input side; by default the images' own size when they all share one square size
    /// of at most 128, else 64.
    pub image_size: Option<u32>,
    /// 1 (grayscale) or 3 (RGB); by default 3 when any image has colour.
    pub channels: Option<u32>,
    pub resize: ResizeMode,
    /// Fraction of each class held out for testing, unless the data has `train/` and `test/`.
    pub test_split: f64,
    pub seed: u64,
    /// Folder for decoded-tensor caches; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
    pub limits: Limits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            image_size: None,
            channels: None,
            resize: ResizeMode::Stretch,
            test_split: 0.2,
            seed: 0,
            cache_dir: None,
            limits: Limits::default(),
        }
    }
}

/// Images as `u8` `[N, C, H, W]` and class indices as `i64` `[N]`.
#[derive(Debug)]
pub struct Split {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A loaded dataset: what training needs.
#[derive(Debug)]
pub struct Dataset {
    pub classes: Vec<String>,
    pub train: Split,
    pub test: Split,
    pub preprocess: Preprocess,
    /// SHA-256 over the files' paths and contents (lineage).
    pub digest: String,
    pub stats: DatasetStats,
    /// True when the decoded tensors came from the cache.
    pub from_cache: bool,
}

/// Checks a folder or ZIP and describes it, decoding every image once; no training.
pub fn validate(path: &Path, options: &LoadOptions) -> Result<DatasetStats, DatasetError> {
    let raw = source::read(path, &options.limits)?;
    let headers = tensors::probe_all(&raw, &options.limits)?;
    raw.files
        .par_iter()
        .zip(headers.par_iter())
        .try_for_each(|(f, h)| {
            decode::decode(&f.path, &f.bytes, h, &tiny_preprocess()).map(drop)
        })?;
    Ok(stats::describe(
        path,
        &raw,
        &headers,
        tensors::digest(path, &raw),
    ))
}

/// Reads, checks, decodes (or takes from the cache) and splits a dataset.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Dataset, DatasetError> {
    check_options(options)?;
    let raw = source::read(path, &options.limits)?;
    let headers = tensors::probe_all(&raw, &options.limits)?;
    let digest = tensors::digest(path, &raw);
    let stats = stats::describe(path, &raw, &headers, digest.clone());
    let mut pre = choose_preprocess(options, &headers);
    let cached = cache::lookup(options.cache_dir.as_deref(), &digest, &pre)?;
    let from_cache = cached.is_some();
    let decoded = match cached {
        Some(hit) => hit,
        None => {
            let fresh = tensors::decode_all(&raw, &headers, &pre)?;
            cache::store(options.cache_dir.as_deref(), &digest, &pre, &fresh)?;
            fresh
        }
    };
    let (train_ix, test_ix) = split::indices(
        &decoded.labels,
        &decoded.explicit,
        raw.classes.len(),
        options,
    )?;
    let train = decoded.take(&train_ix);
    let test = decoded.take(&test_ix);
    (pre.mean, pre.std) = channel_stats(&train.images);
    Ok(Dataset {
        classes: raw.classes,
        train,
        test,
        preprocess: pre,
        digest,
        stats,
        from_cache,
    })
}

fn check_options(options: &LoadOptions) -> Result<(), DatasetError> {
    let bad = |reason: &str| {
        Err(DatasetError::BadOption {
            reason: reason.into(),
        })
    };
    if !(options.test_split > 0.0 && options.test_split < 1.0) {
        return bad("test_split must lie strictly between 0 and 1");
    }
    if options.channels.is_some_and(|c| c != 1 && c != 3) {
        return bad("channels must be 1 or 3");
    }
    if options.image_size.is_some_and(|s| !(8..=1024).contains(&s)) {
        return bad("image_size must lie between 8 and 1024");
    }
    Ok(())
}

fn tiny_preprocess() -> Preprocess {
    Preprocess {
        channels: 1,
        height: 1,
        width: 1,
        resize: ResizeMode::Stretch,
        mean: vec![0.0],
        std: vec![1.0],
    }
}

fn choose_preprocess(options: &LoadOptions, headers: &[decode::Header]) -> Preprocess {
    let first = headers[0];
    let uniform = headers
        .iter()
        .all(|h| h.width == first.width && h.height == first.height);
    let size = options.image_size.unwrap_or(
        if uniform && first.width == first.height && first.width <= 128 {
            first.width
        } else {
            64
        },
    );
    let channels = options
        .channels
        .unwrap_or(if headers.iter().any(|h| h.has_color) {
            3
        } else {
            1
        });
    let c = channels as usize;
    Preprocess {
        channels,
        height: size,
        width: size,
        resize: options.resize,
        mean: vec![0.5; c],
        std: vec![0.5; c],
    }
}
