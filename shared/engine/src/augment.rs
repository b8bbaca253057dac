//! Per-sample augmentation of a whole batch with tensor ops on the training device: quarter
//! turns plus a small rotation (one affine resampling), exposure (brightness, contrast, gamma)
//! and Gaussian noise. Every draw comes from a seeded section, so a batch's augmentation is a
//! function of (images, mode, parameters, seed).

use crate::rng::with_torch_seed;
use serde::{Deserialize, Serialize};
use std::f64::consts::FRAC_PI_2;
use tch::{Kind, Tensor};

/// The augmentation options users choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    None,
    ExposureNoise,
    #[default]
    RotationsExposureNoise,
}

impl Augmentation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ExposureNoise => "exposure_noise",
            Self::RotationsExposureNoise => "rotations_exposure_noise",
        }
    }
}

impl std::str::FromStr for Augmentation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            format!("unknown augmentation {s:?} (none, exposure_noise, rotations_exposure_noise)")
        })
    }
}

/// Strengths of each effect; the defaults keep pages legible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentParams {
    /// Turn by a random multiple of 90° (square inputs; 180° only otherwise).
    pub quarter_turns: bool,
    /// Extra rotation drawn uniformly from ±this many degrees.
    pub max_angle_deg: f64,
    /// Added to every pixel, drawn from ±this.
    pub brightness: f64,
    /// Contrast factor drawn from 1 ± this.
    pub contrast: f64,
    /// Gamma exponent is exp(u), u drawn from ±this.
    pub gamma: f64,
    /// Noise standard deviation drawn from [0, this].
    pub noise_std: f64,
}

impl Default for AugmentParams {
    fn default() -> Self {
        Self {
            quarter_turns: true,
            max_angle_deg: 5.0,
            brightness: 0.1,
            contrast: 0.2,
            gamma: 0.25,
            noise_std: 0.03,
        }
    }
}

/// Augments float images `[N, C, H, W]` with values in [0, 1]; the result keeps shape and range.
pub fn augment(images: &Tensor, mode: Augmentation, params: &AugmentParams, seed: u64) -> Tensor {
    if mode == Augmentation::None {
        return images.shallow_clone();
    }
    with_torch_seed(seed, || {
        let x = if mode == Augmentation::RotationsExposureNoise {
            rotate(images, params)
        } else {
            images.shallow_clone()
        };
        noise(&exposure(&x, params), params)
    })
}

/// Uniform draws in [lo, hi), one per sample, shaped `[N, 1, 1, 1]`.
fn per_sample(x: &Tensor, lo: f64, hi: f64) -> Tensor {
    let n = x.size()[0];
    Tensor::rand([n, 1, 1, 1], (Kind::Float, x.device())) * (hi - lo) + lo
}

fn rotate(x: &Tensor, params: &AugmentParams) -> Tensor {
    let size = x.size();
    let (n, h, w) = (size[0], size[2] as f64, size[3] as f64);
    let options = (Kind::Float, x.device());
    let turns = match (params.quarter_turns, h == w) {
        (false, _) => Tensor::zeros([n], options),
        (true, true) => Tensor::randint(4, [n], options),
        (true, false) => Tensor::randint(2, [n], options) * 2.0,
    };
    let jitter = (Tensor::rand([n], options) * 2.0 - 1.0) * params.max_angle_deg.to_radians();
    let angle = turns * FRAC_PI_2 + jitter;
    let (cos, sin) = (angle.cos(), angle.sin());
    let zero = Tensor::zeros([n], options);
    // Normalised coordinates span [-1, 1] on both axes, so non-square inputs need the aspect
    // ratio folded in to rotate rather than shear.
    let row0 = Tensor::stack(&[&cos, &(-&sin * (h / w)), &zero], 1);
    let row1 = Tensor::stack(&[&(&sin * (w / h)), &cos, &zero], 1);
    let theta = Tensor::stack(&[row0, row1], 1);
    let grid = Tensor::affine_grid_generator(&theta, size.as_slice(), false);
    // Bilinear sampling; border padding repeats the page margin instead of adding black corners.
    x.grid_sampler(&grid, 0, 1, false)
}

fn exposure(x: &Tensor, params: &AugmentParams) -> Tensor {
    let brightness = per_sample(x, -params.brightness, params.brightness);
    let contrast = per_sample(x, 1.0 - params.contrast, 1.0 + params.contrast);
    let gamma = per_sample(x, -params.gamma, params.gamma).exp();
    let mean = x.mean_dim([1i64, 2, 3].as_slice(), true, Kind::Float);
    ((x - &mean) * contrast + mean + brightness)
        .clamp(0.0, 1.0)
        .pow(&gamma)
}

fn noise(x: &Tensor, params: &AugmentParams) -> Tensor {
    let sigma = per_sample(x, 0.0, params.noise_std);
    (x + x.randn_like() * sigma).clamp(0.0, 1.0)
}

/// A PNG grid: one row per image, the original first, then `variants` augmented versions.
pub fn preview_png(
    images: &Tensor,
    mode: Augmentation,
    params: &AugmentParams,
    seed: u64,
    variants: usize,
) -> Result<Vec<u8>, image::ImageError> {
    let x = images.to_device(tch::Device::Cpu).to_kind(Kind::Float) / 255.0;
    let mut columns = vec![x.shallow_clone()];
    for v in 0..variants {
        columns.push(augment(&x, mode, params, crate::rng::mix(seed, v as u64)));
    }
    let grid = Tensor::stack(&columns, 1); // [N, V, C, H, W]
    let s = grid.size();
    let (n, cols, c, h, w) = (s[0], s[1], s[2], s[3], s[4]);
    let gap = 2;
    let (width, height) = (
        (cols * (w + gap) + gap) as u32,
        (n * (h + gap) + gap) as u32,
    );
    let bytes = Vec::<u8>::try_from(
        (grid * 255.0)
            .round()
            .clamp(0.0, 255.0)
            .to_kind(Kind::Uint8)
            .contiguous()
            .view(-1),
    )
    .unwrap_or_default();
    let mut canvas = image::RgbImage::from_pixel(width, height, image::Rgb([40, 40, 40]));
    for (r, k, y, xx) in grid_pixels(n, cols, h, w) {
        let base = (((r * cols + k) * c) * h * w) as usize;
        let at = |ch: i64| bytes[base + (ch * h * w + y * w + xx) as usize];
        let px = if c == 1 {
            [at(0); 3]
        } else {
            [at(0), at(1), at(2)]
        };
        let (cx, cy) = (gap + k * (w + gap) + xx, gap + r * (h + gap) + y);
        canvas.put_pixel(cx as u32, cy as u32, image::Rgb(px));
    }
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(canvas)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

fn grid_pixels(n: i64, cols: i64, h: i64, w: i64) -> impl Iterator<Item = (i64, i64, i64, i64)> {
    (0..n).flat_map(move |r| {
        (0..cols).flat_map(move |k| (0..h).flat_map(move |y| (0..w).map(move |x| (r, k, y, x))))
    })
}
