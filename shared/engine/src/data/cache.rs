//! Decoded-tensor cache: one safetensors file per (content digest, preprocessing), so a second
//! run over the same data skips decoding entirely.

use super::error::{first_line, DatasetError};
use super::{Preprocess, Split};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};

const FORMAT: &str = "trainyard-dataset-cache-v1";

/// All images of a dataset in path order, with labels and explicit split marks
/// (0 none, 1 train, 2 test).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub images: Tensor,
    pub labels: Tensor,
    pub explicit: Vec<u8>,
}

impl Decoded {
    pub fn take(&self, indices: &[i64]) -> Split {
        let ix = Tensor::from_slice(indices);
        Split {
            images: self.images.index_select(0, &ix),
            labels: self.labels.index_select(0, &ix),
        }
    }
}

fn file_for(dir: &Path, digest: &str, pre: &Preprocess) -> PathBuf {
    use sha2::{Digest, Sha256};
    let key = format!(
        "{FORMAT}|{digest}|{}|{}x{}|{}",
        pre.channels,
        pre.width,
        pre.height,
        pre.resize.as_str()
    );
    let name = hex::encode(Sha256::digest(key.as_bytes()));
    dir.join(format!("{}.safetensors", &name[..32]))
}

pub(crate) fn lookup(
    dir: Option<&Path>,
    digest: &str,
    pre: &Preprocess,
) -> Result<Option<Decoded>, DatasetError> {
    let Some(dir) = dir else { return Ok(None) };
    let path = file_for(dir, digest, pre);
    if !path.exists() {
        return Ok(None);
    }
    let bad = |reason: String| DatasetError::Cache {
        path: path.clone(),
        reason,
    };
    let tensors = Tensor::read_safetensors(&path).map_err(|e| bad(first_line(&e.to_string())))?;
    let get = |name: &str| {
        tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.shallow_clone())
            .ok_or_else(|| bad(format!("missing {name}")))
    };
    let images = get("images")?;
    let labels = get("labels")?;
    let explicit = Vec::<u8>::try_from(get("explicit")?.to_kind(Kind::Uint8))
        .map_err(|e| bad(e.to_string()))?;
    let want = [
        explicit.len() as i64,
        pre.channels.into(),
        pre.height.into(),
        pre.width.into(),
    ];
    if images.size() != want || labels.size() != [want[0]] {
        return Err(bad("shapes do not match the preprocessing".into()));
    }
    Ok(Some(Decoded {
        images,
        labels,
        explicit,
    }))
}

pub(crate) fn store(
    dir: Option<&Path>,
    digest: &str,
    pre: &Preprocess,
    data: &Decoded,
) -> Result<(), DatasetError> {
    let Some(dir) = dir else { return Ok(()) };
    std::fs::create_dir_all(dir).map_err(|e| DatasetError::io(dir, e))?;
    let path = file_for(dir, digest, pre);
    let tmp = path.with_extension("tmp");
    let explicit = Tensor::from_slice(&data.explicit);
    let named = [
        ("images", &data.images),
        ("labels", &data.labels),
        ("explicit", &explicit),
    ];
    Tensor::write_safetensors(&named, &tmp).map_err(|e| DatasetError::Cache {
        path: tmp.clone(),
        reason: first_line(&e.to_string()),
    })?;
    // Rename last so a crash never leaves a half-written cache under the real name.
    std::fs::rename(&tmp, &path).map_err(|e| DatasetError::io(&path, e))
}
