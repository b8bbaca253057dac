//! Base models (шаблон модели): an architecture of the engine's zoo, optionally with initial
//! weights for continued training — an uploaded checkpoint or a registered model. A fresh
//! installation has `Базовая модель` (the small document CNN, no initial weights). A base model
//! cannot be deleted while a template refers to it.

use serde::{Deserialize, Serialize};
use trainyard_core::training::Architecture;
use trainyard_core::{Aggregate, BaseModelId, DomainEvent, Rejection, TrainingTemplateId};
use utoipa::ToSchema;
use uuid::Uuid;

use super::references::{self, References};
use super::{check_description, gone};

/// Where a base model's initial weights come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum InitialWeights {
    /// A safetensors checkpoint uploaded to the checkpoints bucket and checked against the
    /// architecture.
    Checkpoint {
        object: String,
        sha256: String,
        size: u64,
        /// Tensors of the file whose names and shapes match the architecture.
        matched_tensors: u32,
    },
    /// A model of the registry (its ONNX weights are loaded when training starts).
    RegisteredModel {
        #[schema(value_type = String, format = Uuid)]
        model_id: Uuid,
        version: u32,
    },
}

#[derive(Debug, Clone, Default)]
pub struct BaseModelState {
    pub id: Option<BaseModelId>,
    pub name: String,
    pub architecture: Architecture,
    pub description: String,
    pub weights: Option<InitialWeights>,
    pub deleted: bool,
    pub references: References,
}

impl BaseModelState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
}

#[derive(Debug, Clone)]
pub enum BaseModelCommand {
    CreateBaseModel {
        base_model_id: BaseModelId,
        name: String,
        architecture: Architecture,
        description: String,
        weights: Option<InitialWeights>,
    },
    UpdateBaseModel {
        description: String,
    },
    SetInitialWeights {
        weights: Option<InitialWeights>,
    },
    DeleteBaseModel,
    ReferenceBaseModel {
        template_id: TrainingTemplateId,
    },
    UnreferenceBaseModel {
        template_id: TrainingTemplateId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum BaseModelEvent {
    BaseModelCreated {
        base_model_id: BaseModelId,
        name: String,
        architecture: Architecture,
        description: String,
        weights: Option<InitialWeights>,
    },
    BaseModelUpdated {
        description: String,
    },
    InitialWeightsSet {
        weights: Option<InitialWeights>,
    },
    BaseModelDeleted,
    BaseModelReferenced {
        template_id: TrainingTemplateId,
    },
    BaseModelUnreferenced {
        template_id: TrainingTemplateId,
    },
}

impl DomainEvent for BaseModelEvent {
    fn event_type(&self) -> &'static str {
        match self {
            BaseModelEvent::BaseModelCreated { .. } => "BaseModelCreated",
            BaseModelEvent::BaseModelUpdated { .. } => "BaseModelUpdated",
            BaseModelEvent::InitialWeightsSet { .. } => "InitialWeightsSet",
            BaseModelEvent::BaseModelDeleted => "BaseModelDeleted",
            BaseModelEvent::BaseModelReferenced { .. } => "BaseModelReferenced",
            BaseModelEvent::BaseModelUnreferenced { .. } => "BaseModelUnreferenced",
        }
    }
}

#[derive(Debug)]
pub struct BaseModel;

impl Aggregate for BaseModel {
    const SERVICE: &'static str = "template";
    const NAME: &'static str = "base_model";
    type State = BaseModelState;
    type Command = BaseModelCommand;
    type Event = BaseModelEvent;

    fn handle(
        state: &BaseModelState,
        command: BaseModelCommand,
    ) -> Result<Vec<BaseModelEvent>, Rejection> {
        use BaseModelCommand as C;
        use BaseModelEvent as E;
        match command {
            C::CreateBaseModel {
                base_model_id,
                name,
                architecture,
                description,
                weights,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "base_model_exists",
                        "the base model already exists",
                    ));
                }
                check_base_model_name(&name)?;
                check_description(&description)?;
                Ok(vec![E::BaseModelCreated {
                    base_model_id,
                    name,
                    architecture,
                    description,
                    weights,
                }])
            }
            C::UnreferenceBaseModel { template_id } => {
                Ok(references::remove(&state.references, template_id)
                    .map(|template_id| E::BaseModelUnreferenced { template_id })
                    .into_iter()
                    .collect())
            }
            _ if !state.is_live() => Err(gone("base model")),
            C::UpdateBaseModel { description } => {
                check_description(&description)?;
                if description == state.description {
                    return Ok(Vec::new());
                }
                Ok(vec![E::BaseModelUpdated { description }])
            }
            C::SetInitialWeights { weights } => {
                if weights == state.weights {
                    return Ok(Vec::new());
                }
                Ok(vec![E::InitialWeightsSet { weights }])
            }
            C::DeleteBaseModel => {
                references::ensure_unreferenced(
                    &state.references,
                    "base_model_in_use",
                    "base model",
                )?;
                Ok(vec![E::BaseModelDeleted])
            }
            C::ReferenceBaseModel { template_id } => {
                Ok(references::add(&state.references, template_id)
                    .map(|template_id| E::BaseModelReferenced { template_id })
                    .into_iter()
                    .collect())
            }
        }
    }

    fn apply(state: &mut BaseModelState, event: &BaseModelEvent) {
        use BaseModelEvent as E;
        match event {
            E::BaseModelCreated {
                base_model_id,
                name,
                architecture,
                description,
                weights,
            } => {
                *state = BaseModelState {
                    id: Some(*base_model_id),
                    name: name.clone(),
                    architecture: *architecture,
                    description: description.clone(),
                    weights: weights.clone(),
                    ..BaseModelState::default()
                };
            }
            E::BaseModelUpdated { description } => state.description.clone_from(description),
            E::InitialWeightsSet { weights } => state.weights.clone_from(weights),
            E::BaseModelDeleted => state.deleted = true,
            E::BaseModelReferenced { template_id } => {
                state.references.insert(*template_id);
            }
            E::BaseModelUnreferenced { template_id } => {
                state.references.remove(template_id);
            }
        }
    }
}

/// Base model names are display names (`Базовая модель`): the house rule for names (letters of
/// any script, digits, `-`, `_`, `.`), plus single spaces between words; 1 to 64 characters.
pub fn check_base_model_name(name: &str) -> Result<(), Rejection> {
    let length = name.chars().count();
    let valid = (1..=64).contains(&length)
        && name.split(' ').all(|word| {
            !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if valid {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_name",
            "`name` must be 1–64 letters, digits, `-`, `_` or `.`, with single spaces between words",
        )
        .field("name"))
    }
}

#[cfg(test)]
mod tests {
    use super::check_base_model_name;

    #[test]
    fn base_model_names_may_have_single_spaces_between_words() {
        for name in ["Базовая модель", "resnet18", "ResNet-18 v2.1", "a"] {
            assert!(check_base_model_name(name).is_ok(), "{name}");
        }
        let too_long = "x".repeat(65);
        for name in [
            "",
            " lead",
            "trail ",
            "two  spaces",
            "tab\there",
            "semi;colon",
            &too_long,
        ] {
            assert_eq!(
                check_base_model_name(name).unwrap_err().field.as_deref(),
                Some("name"),
                "{name:?}"
            );
        }
    }
}
