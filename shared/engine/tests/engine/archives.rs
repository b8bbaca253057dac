//! Hostile ZIP uploads are refused with their stable code, naming the entry (or the archive when
//! no single entry is at fault): compression bombs, sizes that lie, the total-size limit, names
//! that point outside the archive in any spelling, repeated names and links.

use std::io::Write;
use std::path::{Path, PathBuf};
use trainyard_engine::data::{self, Limits, LoadOptions};

use crate::bad_datasets::{expect, png_bytes, zip_with};
use crate::datasets::options;

/// An archive of `entries` with 32-bit size fields (no ZIP64 extra), so tests can rewrite them.
fn plain_zip(entries: &[(&str, Vec<u8>)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    (dir, path)
}

/// Offsets of the local (`PK\3\4`) and central (`PK\1\2`) headers naming `name`, with the
/// offsets of their name fields.
fn headers(bytes: &[u8], name: &str) -> Vec<(usize, usize, bool)> {
    let mut found = Vec::new();
    for at in 0..bytes.len().saturating_sub(46) {
        let (local, central) = (
            &bytes[at..at + 4] == b"PK\x03\x04",
            &bytes[at..at + 4] == b"PK\x01\x02",
        );
        let name_at = if local { at + 30 } else { at + 46 };
        if (local || central) && bytes[name_at..].starts_with(name.as_bytes()) {
            found.push((at, name_at, local));
        }
    }
    assert!(found.len() >= 2, "{name} has a local and a central header");
    found
}

/// Rewrites the uncompressed size of `name` in its local and/or central header.
fn declare_size(zip: &Path, name: &str, size: u32, local: bool, central: bool) {
    let mut bytes = std::fs::read(zip).unwrap();
    for (at, _, is_local) in headers(&bytes, name) {
        if (is_local && local) || (!is_local && central) {
            let field = if is_local { at + 22 } else { at + 24 };
            bytes[field..field + 4].copy_from_slice(&size.to_le_bytes());
        }
    }
    std::fs::write(zip, bytes).unwrap();
}

/// Renames entry `from` to `to` (same length) in every header.
fn rename(zip: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(zip).unwrap();
    for (_, name_at, _) in headers(&bytes, from) {
        bytes[name_at..name_at + to.len()].copy_from_slice(to.as_bytes());
    }
    std::fs::write(zip, bytes).unwrap();
}

fn shown(zip: &Path, entry: &str) -> PathBuf {
    PathBuf::from(format!("{}/{entry}", zip.display()))
}

fn two_classes() -> Vec<(&'static str, Vec<u8>)> {
    vec![("a/1.png", png_bytes(1)), ("b/1.png", png_bytes(2))]
}

#[test]
fn zip_with_extreme_compression_ratio_is_refused_before_inflating() {
    let mut entries = two_classes();
    entries.push(("b/huge.bmp", vec![0u8; 32 << 20]));
    let (_keep, zip) = zip_with(&entries);
    expect(
        data::validate(&zip, &options()),
        "dataset.zip_bomb",
        &shown(&zip, "b/huge.bmp"),
    );
}

#[test]
fn entry_inflating_past_its_declared_size_is_refused() {
    // 8 MiB of zeros declared, in both headers, as 1,000 bytes: under every size and ratio limit,
    // so only reading no further than the declaration (plus one byte) can catch it.
    let mut entries = two_classes();
    entries.push(("b/huge.png", vec![0u8; 8 << 20]));
    let (_keep, zip) = plain_zip(&entries);
    declare_size(&zip, "b/huge.png", 1000, true, true);
    let err = data::validate(&zip, &options()).unwrap_err();
    assert_eq!(err.code(), "dataset.zip_bomb", "{err}");
    assert_eq!(err.path(), Some(shown(&zip, "b/huge.png").as_path()));
    assert!(
        err.to_string().contains("inflates past its declared size"),
        "{err}"
    );
}

#[test]
fn local_header_disagreeing_with_the_central_directory_is_refused() {
    for (local, central) in [(true, false), (false, true)] {
        let mut entries = two_classes();
        entries.push(("b/2.png", png_bytes(3)));
        let (_keep, zip) = plain_zip(&entries);
        assert!(data::validate(&zip, &options()).is_ok(), "control");
        declare_size(&zip, "b/2.png", 7, local, central);
        expect(
            data::validate(&zip, &options()),
            "dataset.corrupt_archive",
            &zip,
        );
    }
}

#[test]
fn archive_over_the_total_size_limit_is_refused_at_the_entry_that_crosses_it() {
    let mut entries = two_classes();
    entries.push(("b/2.png", png_bytes(3)));
    let (_keep, zip) = zip_with(&entries);
    let first_two = (entries[0].1.len() + entries[1].1.len()) as u64;
    assert!(data::validate(&zip, &options()).is_ok(), "control");
    let tight = LoadOptions {
        limits: Limits {
            max_total_bytes: first_two + 1,
            ..Limits::default()
        },
        ..options()
    };
    let err = data::validate(&zip, &tight).unwrap_err();
    assert_eq!(err.code(), "dataset.zip_bomb", "{err}");
    assert_eq!(err.path(), Some(shown(&zip, "b/2.png").as_path()));
    assert!(err.to_string().contains("inflates to over"), "{err}");
}

#[test]
fn zip_entry_escaping_its_folder_is_refused() {
    for name in [
        "../evil.png",
        "a/../../evil.png",
        "..\\evil.png",
        "a\\..\\..\\evil.png",
        "C:\\evil.png",
        "C:/evil.png",
        "\\\\server\\share\\evil.png",
        "/etc/evil.png",
    ] {
        let mut entries = two_classes();
        entries.push((name, png_bytes(3)));
        let (_keep, zip) = zip_with(&entries);
        expect(
            data::validate(&zip, &options()),
            "dataset.unsafe_path",
            &shown(&zip, name),
        );
    }
}

#[test]
fn backslashes_separate_folders_as_windows_tools_write_them() {
    let (_keep, zip) = zip_with(&[
        ("a\\1.png", png_bytes(1)),
        ("b\\1.png", png_bytes(2)),
        ("b\\2.png", png_bytes(3)),
    ]);
    let stats = data::validate(&zip, &options()).unwrap();
    let per_class: Vec<(String, usize)> = stats
        .classes
        .iter()
        .map(|c| (c.name.clone(), c.images))
        .collect();
    assert_eq!(per_class, [("a".into(), 1), ("b".into(), 2)]);
}

#[test]
fn repeated_entry_names_are_refused() {
    // The same name twice: a reader keeping the first and one keeping the last see other data.
    let mut entries = two_classes();
    entries.push(("a/2.png", png_bytes(3)));
    let (_keep, zip) = plain_zip(&entries);
    rename(&zip, "a/2.png", "a/1.png");
    expect(
        data::validate(&zip, &options()),
        "dataset.duplicate_entry",
        &zip,
    );
    // Names that differ only in spelling name the same file.
    for twin in ["a\\1.png", "./a/1.png", "a//1.png"] {
        let mut entries = two_classes();
        entries.push((twin, png_bytes(3)));
        let (_keep, zip) = zip_with(&entries);
        expect(
            data::validate(&zip, &options()),
            "dataset.duplicate_entry",
            &shown(&zip, twin),
        );
    }
}

#[test]
fn symbolic_link_entry_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, bytes) in two_classes() {
        zip.start_file(name, options).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.add_symlink("a/2.png", "/etc/passwd", options).unwrap();
    zip.finish().unwrap();
    expect(
        data::validate(&path, &crate::datasets::options()),
        "dataset.unsafe_path",
        &shown(&path, "a/2.png"),
    );
}
