//! Every kind of bad image data is refused with its stable code and the offending file or folder:
//! truncated and oversized images, empty classes and single-class data (hostile archives are in
//! `archives.rs`).

use std::io::Write;
use std::path::{Path, PathBuf};
use trainyard_engine::data::{self, DatasetError};
use trainyard_engine::synth;

use crate::datasets::{folder, options};

fn first_png(dir: &Path) -> PathBuf {
    let class = dir.join(synth::CLASSES[0]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(class)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.remove(0)
}

pub(crate) fn png_bytes(seed: u64) -> Vec<u8> {
    let img = synth::render(0, 24, &mut trainyard_engine::rng::SplitMix64::new(seed));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub(crate) fn zip_with(entries: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default().large_file(true);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    (dir, path)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid PNG whose header claims `side`×`side` pixels (with a tiny, wrong IDAT).
fn bomb_png(side: u32) -> Vec<u8> {
    let mut png = png_bytes(1);
    // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
    png[16..20].copy_from_slice(&side.to_be_bytes());
    png[20..24].copy_from_slice(&side.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

pub(crate) fn expect(result: Result<data::DatasetStats, DatasetError>, code: &str, path: &Path) {
    let err = result.expect_err("dataset must be refused");
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.path(), Some(path), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn truncated_png_is_refused_naming_the_file() {
    let dir = folder(2, 3);
    let victim = first_png(dir.path());
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    expect(
        data::validate(dir.path(), &options()),
        "dataset.corrupt_image",
        &victim,
    );
    let err = data::load(dir.path(), &options()).unwrap_err();
    assert_eq!(
        (err.code(), err.path()),
        ("dataset.corrupt_image", Some(victim.as_path()))
    );
}

#[test]
fn png_declaring_huge_dimensions_is_refused() {
    let dir = folder(2, 3);
    let victim = first_png(dir.path());
    std::fs::write(&victim, bomb_png(100_000)).unwrap();
    expect(
        data::validate(dir.path(), &options()),
        "dataset.image_too_large",
        &victim,
    );
}

#[test]
fn empty_class_folder_is_refused() {
    let dir = folder(2, 3);
    let empty = dir.path().join("zebra");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("notes.txt"), b"not an image").unwrap();
    expect(
        data::validate(dir.path(), &options()),
        "dataset.empty_class",
        &empty,
    );
}

#[test]
fn single_class_is_refused() {
    let dir = folder(1, 4);
    let _ = std::fs::remove_dir_all(dir.path().join(synth::CLASSES[1]));
    expect(
        data::validate(dir.path(), &options()),
        "dataset.too_few_classes",
        dir.path(),
    );
}
