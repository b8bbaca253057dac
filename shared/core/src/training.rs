//! What a training template says about training: augmentation, architecture and the technical
//! parameters, with the reference product's defaults and the bounds every service enforces. The
//! template service stores these, the scheduler pins them into a process, the worker hands them
//! to the engine, and the engine trains with them, so this is their one home, free of IO and of
//! libtorch. Each choice is spelled on the wire as its snake_case name (`resnet18`, `adamw`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Rejection;

/// How the training set is artificially extended (Искусственно расширить датасет).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Augmentation {
    /// нет
    None,
    /// экспозиция + шум
    ExposureNoise,
    /// повороты + экспозиция + шум (recommended)
    #[default]
    RotationsExposureNoise,
}

/// An architecture of the engine's model zoo. (Named `ArchitectureName` in the OpenAPI
/// documents, as it was before it moved here.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema), schema(as = ArchitectureName))]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// A small CNN for document pages, quick on a CPU.
    #[default]
    Base,
    /// A ResNet-18-class network, for GPUs.
    Resnet18,
}

/// Where training runs. `cuda` falls back to the CPU when the machine has no usable GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Device {
    #[default]
    Cuda,
    Cpu,
}

/// The optimizer training steps with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    #[default]
    Adamw,
    Sgd,
}

/// The wire name of each choice, its parsing (for command lines and query strings) and the full
/// list, for every enum of the vocabulary.
macro_rules! choices {
    ($($ty:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// Every choice, in the order documents list them.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The name on the wire, e.g. in JSON and on command lines.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownChoice;
            fn from_str(text: &str) -> Result<Self, UnknownChoice> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|choice| choice.as_str() == text)
                    .ok_or_else(|| UnknownChoice {
                        what: stringify!($ty),
                        given: text.to_owned(),
                        known: $ty::ALL.iter().map(|c| c.as_str()).collect(),
                    })
            }
        }
    )+};
}

choices! {
    Augmentation {
        None => "none",
        ExposureNoise => "exposure_noise",
        RotationsExposureNoise => "rotations_exposure_noise",
    }
    Architecture { Base => "base", Resnet18 => "resnet18" }
    Device { Cuda => "cuda", Cpu => "cpu" }
    Optimizer { Adamw => "adamw", Sgd => "sgd" }
}

/// A name that is none of a vocabulary's choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {} `{given}` ({})", what.to_lowercase(), known.join(", "))]
pub struct UnknownChoice {
    pub what: &'static str,
    pub given: String,
    pub known: Vec<&'static str>,
}

/// Stop when test accuracy has not improved for `patience_epochs` epochs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    #[schemars(range(min = 1, max = 1000))]
    pub patience_epochs: u32,
    /// Least accuracy gain (0–1) that counts as an improvement.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub min_delta: f64,
}

/// Technical parameters of a template. Every field is optional on input; a missing one takes
/// the default shown. Bounds are in the JSON Schema served by the API and checked by
/// [`TechnicalParameters::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TechnicalParameters {
    /// Data-loading workers (capped at the machine's cores when training starts).
    #[schemars(range(min = 1, max = 64))]
    pub workers: u32,
    #[schemars(range(min = 1, max = 4096))]
    pub batch_size: u32,
    /// Optimizer steps.
    #[schemars(range(min = 1, max = 10000000))]
    pub max_iterations: u64,
    /// Peak learning rate, reached after a warm-up, then decayed.
    #[schemars(range(min = 0.000001, max = 10.0))]
    pub learning_rate: f64,
    /// How often (seconds) test metrics are computed and published.
    #[schemars(range(min = 1, max = 86400))]
    pub metrics_period_secs: u32,
    pub device: Device,
    /// Square input side in pixels; `null` takes the dataset's own size (64 when mixed).
    #[schemars(range(min = 8, max = 1024))]
    pub image_size: Option<u32>,
    /// Share of each class held out for testing when the dataset has no `test/` folder.
    #[schemars(range(min = 0.01, max = 0.9))]
    pub test_split: f64,
    pub seed: u64,
    pub optimizer: Optimizer,
    pub early_stopping: Option<EarlyStopping>,
}

impl Default for TechnicalParameters {
    fn default() -> Self {
        Self {
            workers: 8,
            batch_size: 32,
            max_iterations: 1000,
            learning_rate: 0.005,
            metrics_period_secs: 60,
            device: Device::Cuda,
            image_size: None,
            test_split: 0.2,
            seed: 0,
            optimizer: Optimizer::Adamw,
            early_stopping: None,
        }
    }
}

impl TechnicalParameters {
    /// Refuses values outside the bounds of the JSON Schema, naming the field as
    /// `parameters.<name>`.
    pub fn check(&self) -> Result<(), Rejection> {
        within("workers", f64::from(self.workers), 1.0, 64.0)?;
        within("batch_size", f64::from(self.batch_size), 1.0, 4096.0)?;
        within("max_iterations", self.max_iterations as f64, 1.0, 1e7)?;
        within("learning_rate", self.learning_rate, 1e-6, 10.0)?;
        within(
            "metrics_period_secs",
            f64::from(self.metrics_period_secs),
            1.0,
            86400.0,
        )?;
        if let Some(size) = self.image_size {
            within("image_size", f64::from(size), 8.0, 1024.0)?;
        }
        within("test_split", self.test_split, 0.01, 0.9)?;
        if let Some(early) = &self.early_stopping {
            within(
                "early_stopping.patience_epochs",
                f64::from(early.patience_epochs),
                1.0,
                1000.0,
            )?;
            within("early_stopping.min_delta", early.min_delta, 0.0, 1.0)?;
        }
        Ok(())
    }

    /// The JSON Schema of the parameters (draft 2020-12), as served by the API.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(TechnicalParameters))
            .unwrap_or(serde_json::Value::Null)
    }
}

fn within(field: &str, value: f64, min: f64, max: f64) -> Result<(), Rejection> {
    if value.is_finite() && (min..=max).contains(&value) {
        return Ok(());
    }
    Err(Rejection::new(
        "parameter_out_of_range",
        format!("`parameters.{field}` must be between {min} and {max}"),
    )
    .field(format!("parameters.{field}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_reference_products() {
        let p = TechnicalParameters::default();
        assert_eq!(
            (
                p.workers,
                p.max_iterations,
                p.learning_rate,
                p.metrics_period_secs
            ),
            (8, 1000, 0.005, 60)
        );
        assert_eq!(p.device, Device::Cuda);
        assert!(p.check().is_ok());
    }

    #[test]
    fn a_partial_object_takes_defaults_for_the_rest() {
        let p: TechnicalParameters = serde_json::from_str(r#"{"batch_size": 64}"#).unwrap();
        assert_eq!(p.batch_size, 64);
        assert_eq!(p.max_iterations, 1000);
    }

    #[test]
    fn wire_names_are_the_serde_names_and_parse_back() {
        fn check<T>(all: &[T])
        where
            T: Copy
                + Serialize
                + std::fmt::Display
                + std::str::FromStr
                + PartialEq
                + std::fmt::Debug,
        {
            for choice in all {
                let json = serde_json::to_value(choice).unwrap();
                assert_eq!(json, serde_json::Value::String(choice.to_string()));
                assert_eq!(choice.to_string().parse::<T>().ok(), Some(*choice));
            }
        }
        check(Augmentation::ALL);
        check(Architecture::ALL);
        check(Device::ALL);
        check(Optimizer::ALL);
        let unknown = "vgg".parse::<Architecture>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown architecture `vgg` (base, resnet18)"
        );
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let p = TechnicalParameters {
            learning_rate: 0.0,
            ..TechnicalParameters::default()
        };
        assert_eq!(
            p.check().unwrap_err().field.as_deref(),
            Some("parameters.learning_rate")
        );
        let p = TechnicalParameters {
            learning_rate: f64::NAN,
            ..TechnicalParameters::default()
        };
        assert!(p.check().is_err());
    }
}
