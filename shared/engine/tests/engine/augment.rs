//! Augmentation properties: shapes and ranges kept, `none` is the identity, seeds reproduce,
//! and each mode changes what it should.

use tch::{Kind, Tensor};
use trainyard_engine::augment::{augment, preview_png, AugmentParams, Augmentation};
use trainyard_engine::synth;

fn batch() -> Tensor {
    tch::set_num_threads(1);
    let ds = synth::dataset(3, 4, 32, 5, 0.25).unwrap();
    ds.train.images.to_kind(Kind::Float) / 255.0
}

const MODES: [Augmentation; 3] = [
    Augmentation::None,
    Augmentation::ExposureNoise,
    Augmentation::RotationsExposureNoise,
];

#[test]
fn shapes_and_range_are_kept() {
    let x = batch();
    for mode in MODES {
        let y = augment(&x, mode, &AugmentParams::default(), 11);
        assert_eq!(y.size(), x.size(), "{mode:?}");
        assert_eq!(y.kind(), Kind::Float);
        assert!(
            y.min().double_value(&[]) >= 0.0 && y.max().double_value(&[]) <= 1.0,
            "{mode:?}"
        );
        assert_eq!(y.isnan().any().int64_value(&[]), 0);
    }
}

#[test]
fn none_is_the_identity() {
    let x = batch();
    assert!(augment(&x, Augmentation::None, &AugmentParams::default(), 3).equal(&x));
}

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let x = batch();
    for mode in [
        Augmentation::ExposureNoise,
        Augmentation::RotationsExposureNoise,
    ] {
        let a = augment(&x, mode, &AugmentParams::default(), 42);
        let b = augment(&x, mode, &AugmentParams::default(), 42);
        let c = augment(&x, mode, &AugmentParams::default(), 43);
        assert!(a.equal(&b), "{mode:?} must be reproducible");
        assert!(!a.equal(&c), "{mode:?} must depend on the seed");
        assert!(!a.equal(&x), "{mode:?} must change the images");
    }
}

#[test]
fn exposure_changes_per_image_statistics_but_not_geometry() {
    let x = batch();
    let params = AugmentParams {
        noise_std: 0.0,
        ..AugmentParams::default()
    };
    let y = augment(&x, Augmentation::ExposureNoise, &params, 9);
    let means = |t: &Tensor| {
        Vec::<f32>::try_from(t.mean_dim([1i64, 2, 3].as_slice(), false, Kind::Float)).unwrap()
    };
    let (before, after) = (means(&x), means(&y));
    let moved = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| (*a - *b).abs() > 1e-3)
        .count();
    assert!(
        moved >= before.len() / 2,
        "brightness/contrast/gamma move image means: {before:?} {after:?}"
    );
    // Exposure is monotone per pixel: the darkest pixel of an image stays among its darkest.
    let argmin = |t: &Tensor| Vec::<i64>::try_from(t.flatten(1, -1).argmin(1, false)).unwrap();
    let ranks = y
        .flatten(1, -1)
        .gather(1, &Tensor::from_slice(&argmin(&x)).unsqueeze(1), false);
    let mins = y.flatten(1, -1).min_dim(1, true).0;
    assert!(ranks.allclose(&mins, 1e-5, 1e-5, false));
}

/// Parameters that leave only the quarter turns (no jitter, exposure or noise).
fn turns_only() -> AugmentParams {
    AugmentParams {
        max_angle_deg: 0.0,
        brightness: 0.0,
        contrast: 0.0,
        gamma: 0.0,
        noise_std: 0.0,
        ..AugmentParams::default()
    }
}

/// For each image of `y`, the one k in 0..4 with `y[i]` = `x[i]` turned by k × 90°; panics when
/// none or several match (a page that looks the same turned could not tell turns apart).
fn quarter_turns(x: &Tensor, y: &Tensor) -> Vec<i64> {
    (0..x.size()[0])
        .map(|i| {
            let (xi, yi) = (x.get(i), y.get(i));
            let matches: Vec<i64> = (0..4)
                .filter(|&k| xi.rot90(k, [1, 2]).allclose(&yi, 1e-4, 1e-4, false))
                .collect();
            assert_eq!(matches.len(), 1, "image {i}: turns {matches:?} match");
            matches[0]
        })
        .collect()
}

#[test]
fn quarter_turn_without_jitter_or_exposure_is_an_exact_rotation() {
    let x = batch();
    let y = augment(&x, Augmentation::RotationsExposureNoise, &turns_only(), 5);
    let turns = quarter_turns(&x, &y);
    // Each image is turned by its own draw: an unturned batch, or one turn for all, fails.
    let distinct: std::collections::BTreeSet<_> = turns.iter().collect();
    assert!(
        distinct.len() >= 2 && turns.iter().any(|&k| k != 0),
        "turns drawn: {turns:?}"
    );
}

#[test]
fn only_rotations_exposure_noise_turns_the_pages() {
    let x = batch();
    let params = turns_only();
    // With exposure and noise at zero strength, `exposure_noise` leaves every page as it was.
    let still = augment(&x, Augmentation::ExposureNoise, &params, 5);
    assert!(quarter_turns(&x, &still).iter().all(|&k| k == 0));
    assert!(still.allclose(&x, 1e-6, 1e-6, false));
    let turned = augment(&x, Augmentation::RotationsExposureNoise, &params, 5);
    assert!(quarter_turns(&x, &turned).iter().any(|&k| k != 0));
    // At default strengths, the same seed gives the two modes different results.
    let defaults = AugmentParams::default();
    assert!(
        !augment(&x, Augmentation::ExposureNoise, &defaults, 5).allclose(
            &augment(&x, Augmentation::RotationsExposureNoise, &defaults, 5),
            1e-3,
            1e-3,
            false
        )
    );
}

#[test]
fn noise_raises_pixel_variance_of_flat_images() {
    let flat = Tensor::full([8, 1, 16, 16], 0.5, (Kind::Float, tch::Device::Cpu));
    let params = AugmentParams {
        brightness: 0.0,
        contrast: 0.0,
        gamma: 0.0,
        ..AugmentParams::default()
    };
    let y = augment(&flat, Augmentation::ExposureNoise, &params, 1);
    assert!(y.std(true).double_value(&[]) > 1e-3);
}

#[test]
fn modes_use_the_documented_names() {
    let names: Vec<String> = MODES
        .iter()
        .map(|m| serde_json::to_string(m).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "\"none\"",
            "\"exposure_noise\"",
            "\"rotations_exposure_noise\""
        ]
    );
    assert_eq!(
        "exposure_noise".parse::<Augmentation>().unwrap(),
        Augmentation::ExposureNoise
    );
    assert_eq!(
        Augmentation::default(),
        Augmentation::RotationsExposureNoise
    );
}

#[test]
fn preview_is_a_png_grid() {
    let ds = synth::dataset(2, 3, 24, 1, 0.34).unwrap();
    let png = preview_png(
        &ds.train.images.narrow(0, 0, 3),
        Augmentation::RotationsExposureNoise,
        &AugmentParams::default(),
        7,
        4,
    )
    .unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!((img.width(), img.height()), (5 * 26 + 2, 3 * 26 + 2));
}
