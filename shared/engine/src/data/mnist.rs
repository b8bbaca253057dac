//! MNIST in CSV form (`label,p1,…,p784` per line after a header), the reference data of tests
//! and benchmarks: `mnist_train.csv` and `mnist_test.csv` in one folder.

use super::error::DatasetError;
use super::stats::{ClassStats, DatasetStats};
use super::{channel_stats, Dataset, Preprocess, ResizeMode, Split};
use rayon::prelude::*;
use std::path::Path;
use tch::Tensor;

const SIDE: i64 = 28;

/// Loads both splits; `limit` keeps only the first rows of each (for quick runs).
pub fn load(dir: &Path, limit: Option<(usize, usize)>) -> Result<Dataset, DatasetError> {
    let (train_rows, test_rows) = limit.map_or((None, None), |(a, b)| (Some(a), Some(b)));
    let (train, train_digest) = read_csv(&dir.join("mnist_train.csv"), train_rows)?;
    let (test, test_digest) = read_csv(&dir.join("mnist_test.csv"), test_rows)?;
    let classes: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let (mean, std) = channel_stats(&train.images);
    let preprocess = Preprocess {
        channels: 1,
        height: SIDE as u32,
        width: SIDE as u32,
        resize: ResizeMode::Stretch,
        mean,
        std,
    };
    let digest = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(
            format!("mnist-csv|{train_digest}|{test_digest}").as_bytes(),
        ))
    };
    let stats = stats(dir, &classes, &train, &test, &digest);
    Ok(Dataset {
        from_cache: false,
        classes,
        train,
        test,
        preprocess,
        digest,
        stats,
    })
}

fn read_csv(path: &Path, rows: Option<usize>) -> Result<(Split, String), DatasetError> {
    use sha2::{Digest, Sha256};
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DatasetError::NotFound {
            path: path.to_path_buf(),
        },
        _ => DatasetError::io(path, e),
    })?;
    let lines: Vec<&str> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .take(rows.unwrap_or(usize::MAX))
        .collect();
    let parsed: Vec<(i64, Vec<u8>)> = lines
        .par_iter()
        .enumerate()
        .map(|(i, line)| parse_line(path, i + 2, line))
        .collect::<Result<_, _>>()?;
    let n = parsed.len() as i64;
    let labels: Vec<i64> = parsed.iter().map(|(l, _)| *l).collect();
    let pixels: Vec<u8> = parsed.into_iter().flat_map(|(_, p)| p).collect();
    let split = Split {
        images: Tensor::from_slice(&pixels).view([n, 1, SIDE, SIDE]),
        labels: Tensor::from_slice(&labels),
    };
    let digest = hex::encode(Sha256::digest(lines.join("\n").as_bytes()));
    Ok((split, digest))
}

fn parse_line(path: &Path, line_no: usize, line: &str) -> Result<(i64, Vec<u8>), DatasetError> {
    let bad = |reason: String| DatasetError::BadCsv {
        path: path.to_path_buf(),
        line: line_no,
        reason,
    };
    let mut fields = line.split(',');
    let label: i64 = fields
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .map_err(|_| bad("label is not a number".into()))?;
    if !(0..10).contains(&label) {
        return Err(bad(format!("label {label} is not a digit")));
    }
    let pixels: Vec<u8> = fields
        .map(|f| {
            f.trim()
                .parse::<u8>()
                .map_err(|_| bad(format!("pixel value {f:?} is not in 0..=255")))
        })
        .collect::<Result<_, _>>()?;
    if pixels.len() != (SIDE * SIDE) as usize {
        return Err(bad(format!(
            "{} pixel values, expected {}",
            pixels.len(),
            SIDE * SIDE
        )));
    }
    Ok((label, pixels))
}

fn stats(
    dir: &Path,
    classes: &[String],
    train: &Split,
    test: &Split,
    digest: &str,
) -> DatasetStats {
    let all: Vec<i64> = Vec::<i64>::try_from(&train.labels)
        .unwrap_or_default()
        .into_iter()
        .chain(Vec::<i64>::try_from(&test.labels).unwrap_or_default())
        .collect();
    let images = all.len();
    DatasetStats {
        source: dir.display().to_string(),
        classes: classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassStats {
                name: c.clone(),
                images: all.iter().filter(|&&l| l == i as i64).count(),
            })
            .collect(),
        images,
        skipped_files: 0,
        formats: [("csv".to_string(), images)].into(),
        sizes: [("28x28".to_string(), images)].into(),
        min_width: 28,
        max_width: 28,
        min_height: 28,
        max_height: 28,
        any_color: false,
        explicit_split: true,
        explicit_test_images: test.len(),
        digest: digest.to_string(),
    }
}
