//! Reads the raw files of an ImageFolder dataset from a folder or a ZIP archive and works out its
//! layout (class folders, optional `train/` + `test/` split, an optional wrapping folder).
//!
//! ZIP entries are vetted before anything is inflated: paths must stay inside the archive, and
//! declared sizes and compression ratios must be plausible; the inflated size is then enforced.

use super::error::DatasetError;
use super::Limits;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"];

/// Which explicit split folder a file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitName {
    Train,
    Test,
}

/// One image file, its class and bytes.
#[derive(Debug)]
pub(crate) struct RawFile {
    pub split: Option<SplitName>,
    pub class: String,
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Every image of a dataset, sorted by path, with its sorted class list.
#[derive(Debug)]
pub(crate) struct RawDataset {
    pub classes: Vec<String>,
    pub files: Vec<RawFile>,
    pub explicit_split: bool,
    pub skipped: usize,
}

/// A path inside the dataset, split into components, and where its bytes are.
pub(super) struct Entry {
    pub parts: Vec<String>,
    pub is_dir: bool,
    pub content: Content,
}

pub(super) enum Content {
    Dir,
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Reads a dataset from a folder or a `.zip` file.
pub(crate) fn read(root: &Path, limits: &Limits) -> Result<RawDataset, DatasetError> {
    if !root.exists() {
        return Err(DatasetError::NotFound {
            path: root.to_path_buf(),
        });
    }
    let entries = if root.is_dir() {
        walk_dir(root)?
    } else {
        super::archive::read(root, limits)?
    };
    resolve(root, entries)
}

fn walk_dir(root: &Path) -> Result<Vec<Entry>, DatasetError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), Vec::<String>::new())];
    while let Some((dir, parts)) = stack.pop() {
        let listing = std::fs::read_dir(&dir).map_err(|e| DatasetError::io(&dir, e))?;
        for item in listing {
            let item = item.map_err(|e| DatasetError::io(&dir, e))?;
            let name = item.file_name().to_string_lossy().into_owned();
            let mut child = parts.clone();
            child.push(name);
            let path = item.path();
            if path.is_dir() {
                out.push(Entry {
                    parts: child.clone(),
                    is_dir: true,
                    content: Content::Dir,
                });
                stack.push((path, child));
            } else {
                out.push(Entry {
                    parts: child,
                    is_dir: false,
                    content: Content::File(path),
                });
            }
        }
    }
    Ok(out)
}

pub(super) fn is_image_name(name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    IMAGE_EXTENSIONS.contains(&ext.as_str())
}

fn is_hidden(parts: &[String]) -> bool {
    parts.iter().any(|p| p.starts_with('.') || p == "__MACOSX")
}

/// Works out classes and splits from the entry paths, then loads the image bytes.
fn resolve(root: &Path, entries: Vec<Entry>) -> Result<RawDataset, DatasetError> {
    let mut entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| !is_hidden(&e.parts))
        .collect();
    let prefix = wrapper_prefix(&entries);
    entries.retain(|e| e.parts.len() > prefix);
    let tops: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.parts.len() > prefix + 1 || e.is_dir)
        .map(|e| e.parts[prefix].clone())
        .collect();
    let explicit = tops.contains("train") && tops.contains("test");
    let class_depth = prefix + usize::from(explicit);
    let mut images: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    let mut skipped = 0;
    for (i, e) in entries.iter().enumerate() {
        // A file where a class folder belongs (a README beside the classes) is not a class.
        let beside_classes = !e.is_dir && e.parts.len() == class_depth + 1;
        if e.parts.len() <= class_depth
            || beside_classes
            || (explicit && !matches!(e.parts[prefix].as_str(), "train" | "test"))
        {
            skipped += usize::from(!e.is_dir);
            continue;
        }
        let split = if explicit {
            usize::from(e.parts[prefix] == "test")
        } else {
            0
        };
        let slot = images
            .entry((split, e.parts[class_depth].clone()))
            .or_default();
        if !e.is_dir && is_image_name(e.parts.last().map_or("", String::as_str)) {
            slot.push(i);
        } else if !e.is_dir {
            skipped += 1;
        }
    }
    let folder = |split: usize, class: &str| {
        let mut p = root.join(entries_prefix_path(&entries, prefix));
        if explicit {
            p.push(if split == 1 { "test" } else { "train" });
        }
        p.join(class)
    };
    for ((split, class), files) in &images {
        if files.is_empty() {
            return Err(DatasetError::EmptyClass {
                path: folder(*split, class),
            });
        }
    }
    let classes: Vec<String> = images
        .keys()
        .filter(|(s, _)| *s == 0)
        .map(|(_, c)| c.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if classes.len() < 2 {
        return Err(DatasetError::TooFewClasses {
            path: root.to_path_buf(),
            found: classes.len(),
        });
    }
    if let Some((_, c)) = images.keys().find(|(s, c)| *s == 1 && !classes.contains(c)) {
        return Err(DatasetError::UnknownTestClass { path: folder(1, c) });
    }
    let split_of = |s: usize| match (explicit, s) {
        (false, _) => None,
        (true, 0) => Some(SplitName::Train),
        (true, _) => Some(SplitName::Test),
    };
    let wanted: Vec<(Option<SplitName>, String, usize)> = images
        .iter()
        .flat_map(|((s, c), ix)| ix.iter().map(move |i| (split_of(*s), c.clone(), *i)))
        .collect();
    let mut files = load_all(root, &mut entries, wanted)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(RawDataset {
        classes,
        files,
        explicit_split: explicit,
        skipped,
    })
}

/// Number of leading folders that only wrap the real layout (e.g. a ZIP of `dataset/…`).
fn wrapper_prefix(entries: &[Entry]) -> usize {
    let tops: BTreeSet<&str> = entries.iter().map(|e| e.parts[0].as_str()).collect();
    let file_at_top = entries.iter().any(|e| e.parts.len() == 1 && !e.is_dir);
    let has_subdirs = entries
        .iter()
        .any(|e| e.parts.len() >= 3 || (e.parts.len() == 2 && e.is_dir));
    usize::from(tops.len() == 1 && !file_at_top && has_subdirs)
}

fn entries_prefix_path(entries: &[Entry], prefix: usize) -> PathBuf {
    entries
        .first()
        .map(|e| e.parts[..prefix].iter().collect())
        .unwrap_or_default()
}

fn load_all(
    root: &Path,
    entries: &mut [Entry],
    wanted: Vec<(Option<SplitName>, String, usize)>,
) -> Result<Vec<RawFile>, DatasetError> {
    let mut jobs: Vec<(Option<SplitName>, String, PathBuf, Content)> = wanted
        .into_iter()
        .map(|(s, c, i)| {
            let content = std::mem::replace(&mut entries[i].content, Content::Dir);
            (
                s,
                c,
                root.join(entries[i].parts.iter().collect::<PathBuf>()),
                content,
            )
        })
        .collect();
    jobs.par_iter_mut()
        .map(|(split, class, path, content)| {
            let bytes = match std::mem::replace(content, Content::Dir) {
                Content::Bytes(b) => b,
                Content::File(f) => std::fs::read(&f).map_err(|e| DatasetError::io(&f, e))?,
                Content::Dir => Vec::new(),
            };
            Ok(RawFile {
                split: *split,
                class: class.clone(),
                path: path.clone(),
                bytes,
            })
        })
        .collect()
}
