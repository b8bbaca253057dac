//! Bulk steps over all files of a dataset: header probes, the content digest, parallel
//! decoding into one `u8` tensor, and per-channel statistics for normalisation.

use super::{cache, decode, source, DatasetError, Limits, Preprocess};
use rayon::prelude::*;
use std::path::Path;
use tch::{Kind, Tensor};

pub(crate) fn probe_all(
    raw: &source::RawDataset,
    limits: &Limits,
) -> Result<Vec<decode::Header>, DatasetError> {
    raw.files
        .par_iter()
        .map(|f| decode::probe(&f.path, &f.bytes, limits.max_pixels))
        .collect()
}

pub(crate) fn digest(root: &Path, raw: &source::RawDataset) -> String {
    use sha2::{Digest, Sha256};
    let per_file: Vec<[u8; 32]> = raw
        .files
        .par_iter()
        .map(|f| Sha256::digest(&f.bytes).into())
        .collect();
    let mut hasher = Sha256::new();
    for (f, h) in raw.files.iter().zip(&per_file) {
        let rel = f.path.strip_prefix(root).unwrap_or(&f.path);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(h);
    }
    hex::encode(hasher.finalize())
}

pub(crate) fn decode_all(
    raw: &source::RawDataset,
    headers: &[decode::Header],
    pre: &Preprocess,
) -> Result<cache::Decoded, DatasetError> {
    let pixels: Vec<Vec<u8>> = raw
        .files
        .par_iter()
        .zip(headers.par_iter())
        .map(|(f, h)| decode::decode(&f.path, &f.bytes, h, pre))
        .collect::<Result<_, _>>()?;
    let n = pixels.len() as i64;
    let flat: Vec<u8> = pixels.concat();
    let images = Tensor::from_slice(&flat).view([
        n,
        pre.channels.into(),
        pre.height.into(),
        pre.width.into(),
    ]);
    let label_of = |c: &str| raw.classes.iter().position(|k| k == c).unwrap_or(0) as i64;
    let labels: Vec<i64> = raw.files.iter().map(|f| label_of(&f.class)).collect();
    let explicit: Vec<u8> = raw
        .files
        .iter()
        .map(|f| match f.split {
            None => 0,
            Some(source::SplitName::Train) => 1,
            Some(source::SplitName::Test) => 2,
        })
        .collect();
    Ok(cache::Decoded {
        images,
        labels: Tensor::from_slice(&labels),
        explicit,
    })
}

/// Per-channel mean and standard deviation of `u8` images, scaled to [0, 1].
pub fn channel_stats(images: &Tensor) -> (Vec<f32>, Vec<f32>) {
    let c = images.size()[1];
    let (mut sum, mut sq) = (vec![0f64; c as usize], vec![0f64; c as usize]);
    let n = images.size()[0];
    let mut start = 0;
    while start < n {
        let chunk = images
            .narrow(0, start, (n - start).min(2048))
            .to_kind(Kind::Double)
            / 255.0;
        let s = Vec::<f64>::try_from(chunk.sum_dim_intlist(
            [0i64, 2, 3].as_slice(),
            false,
            Kind::Double,
        ))
        .unwrap_or_default();
        let q = Vec::<f64>::try_from((&chunk * &chunk).sum_dim_intlist(
            [0i64, 2, 3].as_slice(),
            false,
            Kind::Double,
        ))
        .unwrap_or_default();
        for i in 0..c as usize {
            sum[i] += s[i];
            sq[i] += q[i];
        }
        start += 2048;
    }
    let count = (images.numel() as f64 / c as f64).max(1.0);
    let mean: Vec<f32> = sum.iter().map(|s| (s / count) as f32).collect();
    let std = sq
        .iter()
        .zip(&sum)
        .map(|(q, s)| ((q / count - (s / count).powi(2)).max(0.0).sqrt() as f32).max(1e-3))
        .collect();
    (mean, std)
}
