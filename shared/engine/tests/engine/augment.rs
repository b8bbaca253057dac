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

#[test]
fn quarter_turn_without_jitter_or_exposure_is_an_exact_rotation() {
    let x = batch();
    let params = AugmentParams {
        max_angle_deg: 0.0,
        brightness: 0.0,
        contrast: 0.0,
        gamma: 0.0,
        noise_std: 0.0,
        ..AugmentParams::default()
    };
    let y = augment(&x, Augmentation::RotationsExposureNoise, &params, 5);
    for i in 0..x.size()[0] {
        let (xi, yi) = (x.get(i), y.get(i));
        let matched = (0..4).any(|k| xi.rot90(k, [1, 2]).allclose(&yi, 1e-4, 1e-4, false));
        assert!(matched, "image {i} is not a multiple-of-90° turn");
    }
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
