//! Deterministic stratified train/test split: each class is shuffled with a generator derived
//! from the seed and the class index, and the same fraction of every class is held out.

use super::error::DatasetError;
use super::LoadOptions;
use crate::rng::{mix, stream_id, SplitMix64};
use tch::Tensor;

/// Train and test indices (each ascending) into the decoded images.
pub(crate) fn indices(
    labels: &Tensor,
    explicit: &[u8],
    classes: usize,
    options: &LoadOptions,
) -> Result<(Vec<i64>, Vec<i64>), DatasetError> {
    let labels = Vec::<i64>::try_from(labels).map_err(|e| DatasetError::BadOption {
        reason: e.to_string(),
    })?;
    if explicit.iter().any(|&m| m != 0) {
        let pick = |mark: u8| {
            (0..labels.len() as i64)
                .filter(|&i| explicit[i as usize] == mark)
                .collect()
        };
        return Ok((pick(1), pick(2)));
    }
    Ok(stratified(
        &labels,
        classes,
        options.test_split,
        options.seed,
    ))
}

/// Splits `labels` per class; every class with two or more items gives at least one to each side.
pub fn stratified(
    labels: &[i64],
    classes: usize,
    test_fraction: f64,
    seed: u64,
) -> (Vec<i64>, Vec<i64>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in 0..classes {
        let mut members: Vec<i64> = (0..labels.len() as i64)
            .filter(|&i| labels[i as usize] == class as i64)
            .collect();
        let mut rng = SplitMix64::new(mix(mix(seed, stream_id("split")), class as u64));
        rng.shuffle(&mut members);
        let n = members.len();
        let mut n_test = (n as f64 * test_fraction).round() as usize;
        if n >= 2 {
            n_test = n_test.clamp(1, n - 1);
        } else {
            n_test = 0;
        }
        test.extend_from_slice(&members[..n_test]);
        train.extend_from_slice(&members[n_test..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}
