//! Checking uploaded initial weights against an architecture of the engine's zoo. A file is a
//! safetensors file: either bare model variables (`stages.0.conv.weight`) or a training
//! checkpoint (`model.stages.0.conv.weight` next to `optim.…` buffers, which are ignored).
//!
//! A tensor matches when its name is a variable of the architecture and its shape equals that
//! variable's for some input (one or three channels, a small or a large image). The classifier head is sized by the training data, so it never counts as a
//! match and its shape is not checked; training loads what fits. A tensor named like a variable
//! but shaped otherwise means the file belongs to another network, and the whole file is
//! refused, as is a file in which nothing matches.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use tch::{Device, Tensor};
use trainyard_core::training::Architecture;
use trainyard_core::Rejection;
use trainyard_engine::model::{Model, ModelKind, ModelSpec};

/// Prefix of the model's variables in a training checkpoint.
const MODEL_PREFIX: &str = "model.";
/// Prefix of the optimizer's buffers in a training checkpoint.
const OPTIMIZER_PREFIX: &str = "optim.";
/// Input sides of the reference networks: small inputs give `resnet18` a small stem, large ones
/// a large stem and `base` every stage.
const REFERENCE_SIDES: [i64; 2] = [32, 224];

/// The engine's model for an architecture.
pub fn model_kind(architecture: Architecture) -> ModelKind {
    match architecture {
        Architecture::Base => ModelKind::Base,
        Architecture::Resnet18 => ModelKind::Resnet18,
    }
}

/// Variable names of an architecture with every shape each may take.
#[derive(Debug)]
struct Reference {
    shapes: BTreeMap<String, BTreeSet<Vec<i64>>>,
    /// Prefixes of the variables sized by the training data.
    head: &'static [&'static str],
}

impl Reference {
    fn build(architecture: Architecture) -> Self {
        let kind = model_kind(architecture);
        let mut shapes: BTreeMap<String, BTreeSet<Vec<i64>>> = BTreeMap::new();
        for channels in [1, 3] {
            for side in REFERENCE_SIDES {
                let spec = ModelSpec {
                    kind,
                    channels,
                    height: side,
                    width: side,
                    classes: 2,
                };
                let model = Model::new(spec, Device::Cpu, 0);
                for (name, tensor) in model.named_tensors() {
                    shapes.entry(name).or_default().insert(tensor.size());
                }
            }
        }
        let head: &'static [&'static str] = match architecture {
            // The two-layer classifier: `fc1` depends on the input size, `fc` on the classes.
            Architecture::Base => &["fc1.", "fc."],
            Architecture::Resnet18 => &["fc."],
        };
        Self { shapes, head }
    }

    fn of(architecture: Architecture) -> &'static Self {
        static BASE: OnceLock<Reference> = OnceLock::new();
        static RESNET18: OnceLock<Reference> = OnceLock::new();
        let cell = match architecture {
            Architecture::Base => &BASE,
            Architecture::Resnet18 => &RESNET18,
        };
        cell.get_or_init(|| Self::build(architecture))
    }

    fn is_head(&self, name: &str) -> bool {
        self.head.iter().any(|prefix| name.starts_with(prefix))
    }
}

/// Reads the safetensors file at `path` and checks it against `architecture`; returns how many
/// tensors match. Blocking (reads the whole file and builds tensors).
pub fn check_file(path: &Path, architecture: Architecture) -> Result<u32, Rejection> {
    let tensors = Tensor::read_safetensors(path).map_err(|error| {
        Rejection::new(
            "invalid_weights",
            format!("the body is not a readable safetensors file: {error}"),
        )
        .field("body")
    })?;
    check(&tensors, architecture)
}

/// Checks named tensors against `architecture`; returns how many match.
pub fn check(tensors: &[(String, Tensor)], architecture: Architecture) -> Result<u32, Rejection> {
    let reference = Reference::of(architecture);
    let arch = model_kind(architecture).as_str();
    let mut matched = 0u32;
    for (name, tensor) in tensors {
        if name.starts_with(OPTIMIZER_PREFIX) {
            continue;
        }
        let name = name.strip_prefix(MODEL_PREFIX).unwrap_or(name);
        let Some(expected) = reference.shapes.get(name) else {
            continue;
        };
        if reference.is_head(name) {
            continue;
        }
        let size = tensor.size();
        if !tensor.is_floating_point() {
            return Err(mismatch(format!(
                "tensor `{name}` holds {:?} values; weights are floating point",
                tensor.kind()
            )));
        }
        if !expected.contains(&size) {
            return Err(mismatch(format!(
                "tensor `{name}` has shape {size:?}; a `{arch}` network expects {}",
                expected
                    .iter()
                    .map(|shape| format!("{shape:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        matched += 1;
    }
    if matched == 0 {
        let example = reference
            .shapes
            .keys()
            .find(|name| !reference.is_head(name))
            .map_or("", String::as_str);
        return Err(mismatch(format!(
            "no tensor of the file belongs to a `{arch}` network (expected names such as `{example}` or `{MODEL_PREFIX}{example}`)"
        )));
    }
    Ok(matched)
}

fn mismatch(message: String) -> Rejection {
    Rejection::new("weights_mismatch", message).field("body")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(kind: ModelKind, channels: i64, side: i64, classes: i64) -> Vec<(String, Tensor)> {
        let spec = ModelSpec {
            kind,
            channels,
            height: side,
            width: side,
            classes,
        };
        Model::new(spec, Device::Cpu, 7).named_tensors()
    }

    #[test]
    fn weights_of_the_architecture_match_whatever_the_head() {
        let tensors = weights(ModelKind::Base, 1, 64, 5);
        let head = tensors.iter().filter(|(n, _)| n.starts_with("fc")).count();
        let matched = check(&tensors, Architecture::Base).unwrap();
        assert_eq!(matched as usize, tensors.len() - head);
    }

    #[test]
    fn checkpoint_names_match_and_optimizer_buffers_are_ignored() {
        let mut tensors: Vec<(String, Tensor)> = weights(ModelKind::Resnet18, 3, 32, 2)
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), t))
            .collect();
        tensors.push((
            "optim.exp_avg.conv1.weight".into(),
            Tensor::zeros([3], tch::kind::FLOAT_CPU),
        ));
        assert!(check(&tensors, Architecture::Resnet18).unwrap() > 50);
    }

    #[test]
    fn another_architecture_is_refused() {
        let resnet = weights(ModelKind::Resnet18, 3, 32, 2);
        assert_eq!(
            check(&resnet, Architecture::Base).unwrap_err().code,
            "weights_mismatch"
        );
        let base = weights(ModelKind::Base, 3, 32, 2);
        assert_eq!(
            check(&base, Architecture::Resnet18).unwrap_err().code,
            "weights_mismatch"
        );
    }

    #[test]
    fn a_known_name_with_another_shape_is_refused() {
        let tensors = vec![(
            "stages.0.conv.weight".to_owned(),
            Tensor::zeros([16, 2, 3, 3], tch::kind::FLOAT_CPU),
        )];
        let refused = check(&tensors, Architecture::Base).unwrap_err();
        assert_eq!(refused.code, "weights_mismatch");
        assert_eq!(refused.field.as_deref(), Some("body"));
    }
}
