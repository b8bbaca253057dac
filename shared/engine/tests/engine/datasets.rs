//! Dataset reading: layouts, formats, splits and caching.

use std::path::Path;
use trainyard_engine::data::{self, LoadOptions};
use trainyard_engine::synth;

/// Load options of the dataset tests: images resized to 32×32.
pub(crate) fn options() -> LoadOptions {
    LoadOptions {
        image_size: Some(32),
        ..LoadOptions::default()
    }
}

/// A temporary ImageFolder of synthetic pages, 40×40.
pub(crate) fn folder(classes: usize, per_class: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    synth::write_image_folder(dir.path(), classes, per_class, 40, 7).unwrap();
    dir
}

#[test]
fn folder_loads_with_a_deterministic_stratified_split() {
    let dir = folder(3, 10);
    let a = data::load(dir.path(), &options()).unwrap();
    let b = data::load(dir.path(), &options()).unwrap();
    assert_eq!(a.classes, vec!["form", "invoice", "letter"]);
    assert_eq!((a.train.len(), a.test.len()), (24, 6));
    assert_eq!(a.train.images.size(), vec![24, 1, 32, 32]);
    assert!(a.train.labels.equal(&b.train.labels) && a.test.images.equal(&b.test.images));
    let test_labels = Vec::<i64>::try_from(&a.test.labels).unwrap();
    for class in 0..3 {
        assert_eq!(
            test_labels.iter().filter(|&&l| l == class).count(),
            2,
            "two test images per class"
        );
    }
    let other = data::load(
        dir.path(),
        &LoadOptions {
            seed: 99,
            ..options()
        },
    )
    .unwrap();
    assert!(
        !other.test.images.equal(&a.test.images),
        "another seed gives another split"
    );
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.stats.classes[0].images, 10);
    assert_eq!(a.stats.formats.get("png"), Some(&30));
}

#[test]
fn zip_with_wrapper_folder_matches_the_folder_and_rgb_resize_works() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("pages.zip");
    synth::write_zip(&zip, 2, 6, 40, 3).unwrap();
    let options = LoadOptions {
        channels: Some(3),
        image_size: Some(20),
        ..LoadOptions::default()
    };
    let ds = data::load(&zip, &options).unwrap();
    assert_eq!(ds.classes, vec!["form", "invoice"]);
    assert_eq!(ds.train.images.size(), vec![10, 3, 20, 20]);
    assert_eq!(ds.preprocess.mean.len(), 3);
    let stats = data::validate(&zip, &options).unwrap();
    assert_eq!(
        (stats.images, stats.min_width, stats.max_height),
        (12, 40, 40)
    );
}

#[test]
fn files_beside_the_class_folders_are_skipped_not_taken_for_classes() {
    let dir = folder(2, 4);
    std::fs::write(dir.path().join("README.txt"), "scanned in March").unwrap();
    std::fs::write(dir.path().join("labels.csv"), "file,label\n").unwrap();
    let ds = data::load(dir.path(), &options()).unwrap();
    assert_eq!(ds.classes, vec!["form", "invoice"]);
    assert_eq!(ds.train.len() + ds.test.len(), 8);
    assert_eq!(ds.stats.skipped_files, 2);
}

#[test]
fn explicit_train_and_test_folders_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    synth::write_image_folder(&dir.path().join("train"), 2, 5, 32, 1).unwrap();
    synth::write_image_folder(&dir.path().join("test"), 2, 2, 32, 2).unwrap();
    let ds = data::load(dir.path(), &options()).unwrap();
    assert_eq!((ds.train.len(), ds.test.len()), (10, 4));
    assert!(ds.stats.explicit_split);
}

#[test]
fn second_load_comes_from_the_cache() {
    let dir = folder(2, 6);
    let cache = tempfile::tempdir().unwrap();
    let options = LoadOptions {
        cache_dir: Some(cache.path().to_path_buf()),
        ..options()
    };
    let first = data::load(dir.path(), &options).unwrap();
    assert!(!first.from_cache);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);
    let second = data::load(dir.path(), &options).unwrap();
    assert!(second.from_cache);
    assert!(first.train.images.equal(&second.train.images));
    let resized = data::load(
        dir.path(),
        &LoadOptions {
            image_size: Some(16),
            ..options.clone()
        },
    )
    .unwrap();
    assert!(
        !resized.from_cache,
        "other preprocessing, other cache entry"
    );
}

#[test]
fn mnist_csv_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.trainyard/data/mnist");
    let ds = data::mnist::load(&dir, Some((500, 100))).unwrap();
    assert_eq!(ds.train.images.size(), vec![500, 1, 28, 28]);
    assert_eq!(ds.test.len(), 100);
    assert!(
        (ds.preprocess.mean[0] - 0.13).abs() < 0.02,
        "{:?}",
        ds.preprocess.mean
    );
}

#[test]
fn jpeg_bmp_tiff_and_png_all_decode_and_colour_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let formats = [
        ("jpg", image::ImageFormat::Jpeg),
        ("bmp", image::ImageFormat::Bmp),
        ("tiff", image::ImageFormat::Tiff),
        ("png", image::ImageFormat::Png),
    ];
    for (class, seed) in [("a", 1u64), ("b", 2)] {
        std::fs::create_dir(dir.path().join(class)).unwrap();
        for (i, (ext, format)) in formats.iter().enumerate() {
            let gray = synth::render(
                seed as usize,
                30,
                &mut trainyard_engine::rng::SplitMix64::new(seed + i as u64),
            );
            let rgb = image::DynamicImage::ImageLuma8(gray).to_rgb8();
            rgb.save_with_format(dir.path().join(class).join(format!("{i}.{ext}")), *format)
                .unwrap();
        }
    }
    let stats = data::validate(dir.path(), &options()).unwrap();
    let found: Vec<&str> = stats.formats.keys().map(String::as_str).collect();
    assert_eq!(stats.images, 8);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(stats.any_color);
    let ds = data::load(
        dir.path(),
        &LoadOptions {
            test_split: 0.25,
            ..options()
        },
    )
    .unwrap();
    assert_eq!(ds.preprocess.channels, 3, "colour images give an RGB input");
    assert_eq!(ds.train.images.size(), vec![6, 3, 32, 32]);
}
