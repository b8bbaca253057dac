//! Synthetic document-like pages (letters, tables, forms, invoices, receipts) for tests, demos
//! and benchmarks, since no document scans can be fetched. Each class has its own layout;
//! positions, sizes, ink and paper tone, and noise vary per sample.

use crate::data::{
    channel_stats, Dataset, DatasetError, DatasetStats, Preprocess, ResizeMode, Split,
};
use crate::rng::{mix, SplitMix64};
use image::{GrayImage, Luma};
use std::io::Write;
use std::path::Path;
use tch::Tensor;

pub const CLASSES: [&str; 5] = ["form", "invoice", "letter", "receipt", "table"];

/// Renders one page of class `class` (an index into [`CLASSES`]) as a `size`×`size` image.
pub fn render(class: usize, size: u32, rng: &mut SplitMix64) -> GrayImage {
    let paper = 225 + rng.below(31) as u8;
    let mut page = Page {
        img: GrayImage::from_pixel(size, size, Luma([paper])),
        ink: rng.below(70) as u8,
        s: size as f64,
    };
    let jitter = |rng: &mut SplitMix64| (rng.next_f64() - 0.5) * 0.06;
    let (dx, dy) = (jitter(rng), jitter(rng));
    match class % CLASSES.len() {
        0 => form(&mut page, rng, dx, dy),
        1 => invoice(&mut page, rng, dx, dy),
        2 => letter(&mut page, rng, dx, dy),
        3 => receipt(&mut page, rng, dx, dy),
        _ => table(&mut page, rng, dx, dy),
    }
    for p in page.img.pixels_mut() {
        let n = (rng.next_f64() + rng.next_f64() + rng.next_f64() - 1.5) * 24.0;
        p.0[0] = (f64::from(p.0[0]) + n).clamp(0.0, 255.0) as u8;
    }
    page.img
}

/// Drawing in page-relative coordinates (0..1).
struct Page {
    img: GrayImage,
    ink: u8,
    s: f64,
}

impl Page {
    fn fill(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        let to = |v: f64, s: f64| (v.clamp(0.0, 1.0) * s) as u32;
        let (ax, ay, bx, by) = (
            to(x0, self.s),
            to(y0, self.s),
            to(x1, self.s),
            to(y1, self.s),
        );
        for y in ay..by.max(ay + 1).min(self.img.height()) {
            for x in ax..bx.max(ax + 1).min(self.img.width()) {
                self.img.put_pixel(x, y, Luma([self.ink]));
            }
        }
    }

    fn outline(&mut self, x0: f64, y0: f64, x1: f64, y1: f64) {
        let t = 1.0 / self.s;
        self.fill(x0, y0, x1, y0 + t);
        self.fill(x0, y1, x1, y1 + t);
        self.fill(x0, y0, x0 + t, y1);
        self.fill(x1, y0, x1 + t, y1 + t);
    }

    fn text(&mut self, x0: f64, y0: f64, width: f64, lines: usize, gap: f64, rng: &mut SplitMix64) {
        for i in 0..lines {
            let w = width * (0.55 + 0.45 * rng.next_f64());
            let y = y0 + i as f64 * gap;
            self.fill(x0, y, x0 + w, y + gap * 0.45);
        }
    }

    fn ring(&mut self, cx: f64, cy: f64, r: f64) {
        let s = self.s;
        for y in 0..self.img.height() {
            for x in 0..self.img.width() {
                let d = ((x as f64 / s - cx).powi(2) + (y as f64 / s - cy).powi(2)).sqrt();
                if (d - r).abs() < 1.2 / s + r * 0.08 {
                    self.img.put_pixel(x, y, Luma([self.ink]));
                }
            }
        }
    }
}

fn letter(p: &mut Page, rng: &mut SplitMix64, dx: f64, dy: f64) {
    p.text(0.1 + dx, 0.08 + dy, 0.3, 3, 0.05, rng);
    p.text(
        0.1 + dx,
        0.32 + dy,
        0.8,
        8 + rng.below(3) as usize,
        0.06,
        rng,
    );
    p.fill(0.6 + dx, 0.88 + dy, 0.85 + dx, 0.9 + dy);
}

fn table(p: &mut Page, rng: &mut SplitMix64, dx: f64, dy: f64) {
    let (rows, cols) = (5 + rng.below(4) as usize, 3 + rng.below(3) as usize);
    let (x0, y0, w, h) = (0.08 + dx, 0.15 + dy, 0.84, 0.7);
    for r in 0..=rows {
        let y = y0 + h * r as f64 / rows as f64;
        p.fill(x0, y, x0 + w, y + 1.0 / p.s);
    }
    for c in 0..=cols {
        let x = x0 + w * c as f64 / cols as f64;
        p.fill(x, y0, x + 1.0 / p.s, y0 + h);
    }
    p.text(0.08 + dx, 0.05 + dy, 0.4, 1, 0.05, rng);
}

fn form(p: &mut Page, rng: &mut SplitMix64, dx: f64, dy: f64) {
    for i in 0..5 {
        let y = 0.12 + dy + i as f64 * 0.14;
        p.text(0.08 + dx, y, 0.22, 1, 0.05, rng);
        p.outline(0.36 + dx, y - 0.02, 0.9 + dx, y + 0.07);
    }
    p.ring(0.75 + dx, 0.86 + dy, 0.08 + rng.next_f64() * 0.03);
}

fn invoice(p: &mut Page, rng: &mut SplitMix64, dx: f64, dy: f64) {
    p.fill(0.55 + dx, 0.06 + dy, 0.92 + dx, 0.14 + dy);
    p.text(0.08 + dx, 0.2 + dy, 0.35, 4, 0.05, rng);
    p.text(0.55 + dx, 0.2 + dy, 0.35, 4, 0.05, rng);
    for r in 0..5 {
        let y = 0.5 + dy + r as f64 * 0.06;
        p.fill(0.08 + dx, y, 0.92 + dx, y + 1.0 / p.s);
        p.text(0.1 + dx, y + 0.015, 0.5, 1, 0.05, rng);
    }
    p.outline(0.6 + dx, 0.84 + dy, 0.92 + dx, 0.92 + dy);
}

fn receipt(p: &mut Page, rng: &mut SplitMix64, dx: f64, dy: f64) {
    p.outline(0.3 + dx, 0.03, 0.7 + dx, 0.97);
    p.text(
        0.35 + dx,
        0.08 + dy,
        0.3,
        12 + rng.below(3) as usize,
        0.06,
        rng,
    );
}

/// `per_class` pages of each class, rendered in parallel; deterministic in `seed`.
fn pages(classes: usize, per_class: usize, size: u32, seed: u64) -> Vec<(usize, GrayImage)> {
    use rayon::prelude::*;
    (0..classes * per_class)
        .into_par_iter()
        .map(|i| {
            (
                i % classes,
                render(i % classes, size, &mut SplitMix64::new(mix(seed, i as u64))),
            )
        })
        .collect()
}

/// Writes an ImageFolder tree: `dir/<class>/<n>.png`.
pub fn write_image_folder(
    dir: &Path,
    classes: usize,
    per_class: usize,
    size: u32,
    seed: u64,
) -> std::io::Result<()> {
    for (i, (class, img)) in pages(classes, per_class, size, seed)
        .into_iter()
        .enumerate()
    {
        let folder = dir.join(CLASSES[class]);
        std::fs::create_dir_all(&folder)?;
        img.save(folder.join(format!("{i:05}.png")))
            .map_err(std::io::Error::other)?;
    }
    Ok(())
}

/// Writes the same tree into a ZIP archive under a top folder `pages/`.
pub fn write_zip(
    path: &Path,
    classes: usize,
    per_class: usize,
    size: u32,
    seed: u64,
) -> std::io::Result<()> {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path)?);
    let options = zip::write::SimpleFileOptions::default();
    for (i, (class, img)) in pages(classes, per_class, size, seed)
        .into_iter()
        .enumerate()
    {
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .map_err(std::io::Error::other)?;
        zip.start_file(format!("pages/{}/{i:05}.png", CLASSES[class]), options)
            .map_err(std::io::Error::other)?;
        zip.write_all(&png)?;
    }
    zip.finish().map_err(std::io::Error::other)?;
    Ok(())
}

/// An in-memory dataset of synthetic pages with a stratified split (no files involved).
pub fn dataset(
    classes: usize,
    per_class: usize,
    size: u32,
    seed: u64,
    test_split: f64,
) -> Result<Dataset, DatasetError> {
    let classes = classes.clamp(2, CLASSES.len());
    let pages = pages(classes, per_class, size, seed);
    let labels: Vec<i64> = pages.iter().map(|(c, _)| *c as i64).collect();
    let pixels: Vec<u8> = pages
        .iter()
        .flat_map(|(_, img)| img.as_raw().clone())
        .collect();
    let images =
        Tensor::from_slice(&pixels).view([pages.len() as i64, 1, size.into(), size.into()]);
    let (train_ix, test_ix) = crate::data::stratified_split(&labels, classes, test_split, seed);
    let take = |ix: &[i64]| {
        let ix = Tensor::from_slice(ix);
        Split {
            images: images.index_select(0, &ix),
            labels: Tensor::from_slice(&labels).index_select(0, &ix),
        }
    };
    let (train, test) = (take(&train_ix), take(&test_ix));
    let (mean, std) = channel_stats(&train.images);
    let names: Vec<String> = CLASSES[..classes].iter().map(|c| c.to_string()).collect();
    let preprocess = Preprocess {
        channels: 1,
        height: size,
        width: size,
        resize: ResizeMode::Stretch,
        mean,
        std,
    };
    let digest = format!("synthetic-{classes}-{per_class}-{size}-{seed}");
    let stats = DatasetStats::synthetic(&names, per_class, size, &digest);
    Ok(Dataset {
        from_cache: false,
        classes: names,
        train,
        test,
        preprocess,
        digest,
        stats,
    })
}
