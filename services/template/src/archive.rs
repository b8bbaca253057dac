//! Dataset archives in the datasets bucket: content-addressed object names and the sample grid
//! (a PNG with a few images of each class) rendered from a validated archive.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;

use image::{DynamicImage, GenericImage, ImageFormat, ImageReader, Rgb, RgbImage};
use trainyard_core::DatasetId;
use trainyard_platform::object_store::{Blobs, ObjectStoreError};

/// Object holding the archive with digest `sha256` of dataset `dataset`. Equal bytes get the same
/// name, so an upload can never replace another version's archive with different content.
pub fn archive_object(dataset: DatasetId, sha256: &str) -> String {
    format!("{dataset}/{sha256}.zip")
}

/// Object holding the sample grid of the archive `sha256` of dataset `dataset`.
pub fn samples_object(dataset: DatasetId, sha256: &str) -> String {
    format!("{dataset}/{sha256}.samples.png")
}

/// Removes a version's archive and sample grid; what is already gone is fine, anything else is
/// logged (the dataset or version is gone either way).
pub async fn remove_objects(bucket: &Blobs, dataset: DatasetId, sha256: &str) {
    for object in [
        archive_object(dataset, sha256),
        samples_object(dataset, sha256),
    ] {
        match bucket.delete(&object).await {
            Ok(()) | Err(ObjectStoreError::NotFound { .. }) => {}
            Err(error) => tracing::warn!(%error, %object, "dataset object not removed"),
        }
    }
}

/// Images shown per class.
pub const SAMPLES_PER_CLASS: usize = 4;
/// Classes shown at most (one row each, in class order).
pub const MAX_CLASS_ROWS: usize = 32;
/// Side of one square tile, in pixels.
pub const TILE: u32 = 64;
const GAP: u32 = 4;
const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("archive unreadable: {0}")]
    Archive(String),
    #[error("{path}: {reason}")]
    Image { path: String, reason: String },
    #[error("no images of the given classes in the archive")]
    Empty,
}

/// Renders the grid of an archive that validation accepted: one row per class of `classes` (the
/// first [`MAX_CLASS_ROWS`]), up to [`SAMPLES_PER_CLASS`] images each, taken in path order from
/// the folders named like the class, each scaled to fit a [`TILE`]-pixel square on white.
/// Entries over `max_entry_bytes` or images over `max_pixels` are not read.
pub fn render_grid(
    zip_path: &Path,
    classes: &[String],
    max_entry_bytes: u64,
    max_pixels: u64,
) -> Result<Vec<u8>, GridError> {
    let archive_error = |e: zip::result::ZipError| GridError::Archive(e.to_string());
    let file = std::fs::File::open(zip_path).map_err(|e| GridError::Archive(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(archive_error)?;
    let rows: Vec<&String> = classes.iter().take(MAX_CLASS_ROWS).collect();
    let mut candidates: Vec<(String, usize, usize)> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(archive_error)?;
        let Some(name) = entry.enclosed_name() else {
            continue;
        };
        if entry.is_dir() || entry.size() > max_entry_bytes || !is_image(&name) {
            continue;
        }
        let parts: Vec<String> = name
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.iter().any(|p| p.starts_with('.') || p == "__MACOSX") {
            continue;
        }
        let Some(class) = parts.len().checked_sub(2).map(|i| &parts[i]) else {
            continue;
        };
        if let Some(row) = rows.iter().position(|c| *c == class) {
            candidates.push((name.to_string_lossy().into_owned(), row, index));
        }
    }
    candidates.sort();
    let mut picked: BTreeMap<usize, Vec<RgbImage>> = BTreeMap::new();
    for (name, row, index) in candidates {
        let tiles = picked.entry(row).or_default();
        if tiles.len() >= SAMPLES_PER_CLASS {
            continue;
        }
        let mut entry = archive.by_index(index).map_err(archive_error)?;
        let mut bytes = Vec::new();
        (&mut entry)
            .take(max_entry_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| GridError::Archive(e.to_string()))?;
        tiles.push(tile(&name, &bytes, max_pixels)?);
    }
    if picked.values().all(Vec::is_empty) {
        return Err(GridError::Empty);
    }
    let columns = u32::try_from(SAMPLES_PER_CLASS).unwrap_or(1);
    let row_count = u32::try_from(rows.len()).unwrap_or(1);
    let mut grid = RgbImage::from_pixel(
        GAP + columns * (TILE + GAP),
        GAP + row_count * (TILE + GAP),
        Rgb([224, 224, 224]),
    );
    for (row, tiles) in picked {
        let y = GAP + u32::try_from(row).unwrap_or(0) * (TILE + GAP);
        for (column, image) in (0u32..).zip(tiles) {
            let x = GAP + column * (TILE + GAP);
            grid.copy_from(&image, x, y)
                .map_err(|e| GridError::Archive(e.to_string()))?;
        }
    }
    let mut png = Vec::new();
    DynamicImage::ImageRgb8(grid)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| GridError::Archive(e.to_string()))?;
    Ok(png)
}

fn is_image(name: &Path) -> bool {
    name.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// One image scaled to fit the tile, centred on white.
fn tile(name: &str, bytes: &[u8], max_pixels: u64) -> Result<RgbImage, GridError> {
    let bad = |reason: String| GridError::Image {
        path: name.to_owned(),
        reason,
    };
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?;
    let (width, height) = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?
        .into_dimensions()
        .map_err(|e| bad(e.to_string()))?;
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(bad(format!("{width}x{height} pixels is over the limit")));
    }
    let image = reader.decode().map_err(|e| bad(e.to_string()))?;
    let small = image.thumbnail(TILE, TILE).to_rgb8();
    let mut canvas = RgbImage::from_pixel(TILE, TILE, Rgb([255, 255, 255]));
    let x = (TILE - small.width()) / 2;
    let y = (TILE - small.height()) / 2;
    canvas
        .copy_from(&small, x, y)
        .map_err(|e| bad(e.to_string()))?;
    Ok(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(RgbImage::from_pixel(width, height, Rgb([shade, 0, 0])))
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn renders_one_row_per_class_with_at_most_four_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, bytes) in [
            ("top/cats/1.png", png(10, 20, 10)),
            ("top/cats/2.png", png(30, 20, 20)),
            ("top/dogs/1.png", png(80, 80, 30)),
            ("top/dogs/notes.txt", b"not an image".to_vec()),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(&bytes).unwrap();
        }
        for i in 0..6 {
            zip.start_file(format!("top/dogs/{i}x.png"), options)
                .unwrap();
            zip.write_all(&png(8, 8, 40)).unwrap();
        }
        zip.finish().unwrap();
        let classes = vec!["cats".to_owned(), "dogs".to_owned()];
        let grid = render_grid(&path, &classes, 1 << 20, 1 << 20).unwrap();
        let grid = image::load_from_memory(&grid).unwrap();
        assert_eq!(grid.width(), GAP + 4 * (TILE + GAP));
        assert_eq!(grid.height(), GAP + 2 * (TILE + GAP));
    }
}
