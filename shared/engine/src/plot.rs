//! A dependency-free PNG chart of a run, one point per epoch: learning rate (green), average
//! training loss (blue) and test accuracy (red). Accuracy uses the full height as 0–100 %; the
//! other two are scaled to their own maximum, since only their shape matters at a glance.

use crate::train::EpochMetrics;
use image::{Rgb, RgbImage};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 360;
const MARGIN: i64 = 30;
const GREEN: Rgb<u8> = Rgb([0, 150, 0]);
const BLUE: Rgb<u8> = Rgb([0, 70, 220]);
const RED: Rgb<u8> = Rgb([220, 0, 0]);
const AXIS: Rgb<u8> = Rgb([60, 60, 60]);
const GRID: Rgb<u8> = Rgb([225, 225, 225]);

/// A curve: how to read its value from an epoch, the value drawn at the top, its colour.
type Curve = (fn(&EpochMetrics) -> f64, f64, Rgb<u8>);

/// Renders the chart and encodes it as PNG.
pub fn render_png(history: &[EpochMetrics]) -> Result<Vec<u8>, image::ImageError> {
    let img = render(history);
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)?;
    Ok(out)
}

pub fn render(history: &[EpochMetrics]) -> RgbImage {
    let mut img = RgbImage::from_pixel(WIDTH, HEIGHT, Rgb([255, 255, 255]));
    let (x0, y0, x1, y1) = (
        MARGIN,
        HEIGHT as i64 - MARGIN,
        WIDTH as i64 - MARGIN / 2,
        MARGIN / 2,
    );
    for tenth in 1..=10 {
        let y = y0 + (y1 - y0) * tenth / 10;
        line(&mut img, (x0, y), (x1, y), GRID);
    }
    line(&mut img, (x0, y0), (x1, y0), AXIS);
    line(&mut img, (x0, y0), (x0, y1), AXIS);
    let n = history.len();
    let x_of = |i: usize| {
        if n <= 1 {
            (x0 + x1) / 2
        } else {
            x0 + (x1 - x0) * i as i64 / (n as i64 - 1)
        }
    };
    for i in 0..n {
        line(&mut img, (x_of(i), y0), (x_of(i), y0 + 5), AXIS);
    }
    let max = |f: fn(&EpochMetrics) -> f64| history.iter().map(f).fold(0.0f64, f64::max).max(1e-12);
    let curves: [Curve; 3] = [
        (|m| m.lr, max(|m| m.lr), GREEN),
        (|m| m.train_loss_avg, max(|m| m.train_loss_avg), BLUE),
        (|m| m.test_accuracy, 1.0, RED),
    ];
    for (value, top, color) in curves {
        let points: Vec<(i64, i64)> = history
            .iter()
            .enumerate()
            .map(|(i, m)| {
                (
                    x_of(i),
                    y0 + ((y1 - y0) as f64 * (value(m) / top).clamp(0.0, 1.0)) as i64,
                )
            })
            .collect();
        for pair in points.windows(2) {
            thick_line(&mut img, pair[0], pair[1], color);
        }
        for &p in &points {
            dot(&mut img, p, color);
        }
    }
    img
}

fn put(img: &mut RgbImage, (x, y): (i64, i64), color: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, color);
    }
}

/// Bresenham's line.
fn line(img: &mut RgbImage, (mut x, mut y): (i64, i64), (x1, y1): (i64, i64), color: Rgb<u8>) {
    let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
    let (sx, sy) = ((x1 - x).signum(), (y1 - y).signum());
    let mut err = dx + dy;
    loop {
        put(img, (x, y), color);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

fn thick_line(img: &mut RgbImage, a: (i64, i64), b: (i64, i64), color: Rgb<u8>) {
    for (ox, oy) in [(0, 0), (1, 0), (0, 1)] {
        line(img, (a.0 + ox, a.1 + oy), (b.0 + ox, b.1 + oy), color);
    }
}

fn dot(img: &mut RgbImage, (x, y): (i64, i64), color: Rgb<u8>) {
    for oy in -2..=2 {
        for ox in -2..=2 {
            put(img, (x + ox, y + oy), color);
        }
    }
}
