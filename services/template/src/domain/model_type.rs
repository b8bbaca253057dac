//! Model types (тип модели): installation-wide task kinds that administrators manage. The name is
//! case-sensitive and fixed after creation (it is also the inference routing key); a fresh
//! installation has `classifier`.

use serde::{Deserialize, Serialize};
use trainyard_core::{Aggregate, DomainEvent, ModelTypeId, Rejection, TrainingTemplateId};
use utoipa::ToSchema;

use super::references::{self, References};
use super::{check_description, check_name, gone};

/// Largest configuration document, serialised.
pub const CONFIGURATION_MAX_BYTES: usize = 16 * 1024;

/// The kind of task a model type solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// One label per image.
    #[default]
    Classification,
}

#[derive(Debug, Clone, Default)]
pub struct ModelTypeState {
    pub id: Option<ModelTypeId>,
    pub name: String,
    pub description: String,
    pub goal: Goal,
    pub configuration: serde_json::Value,
    pub deleted: bool,
    pub references: References,
}

impl ModelTypeState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
}

#[derive(Debug, Clone)]
pub enum ModelTypeCommand {
    CreateModelType {
        model_type_id: ModelTypeId,
        name: String,
        description: String,
        goal: Goal,
        configuration: serde_json::Value,
    },
    UpdateModelType {
        description: String,
        goal: Goal,
        configuration: serde_json::Value,
    },
    DeleteModelType,
    ReferenceModelType {
        template_id: TrainingTemplateId,
    },
    UnreferenceModelType {
        template_id: TrainingTemplateId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ModelTypeEvent {
    ModelTypeCreated {
        model_type_id: ModelTypeId,
        name: String,
        description: String,
        goal: Goal,
        configuration: serde_json::Value,
    },
    ModelTypeUpdated {
        description: String,
        goal: Goal,
        configuration: serde_json::Value,
    },
    ModelTypeDeleted,
    ModelTypeReferenced {
        template_id: TrainingTemplateId,
    },
    ModelTypeUnreferenced {
        template_id: TrainingTemplateId,
    },
}

impl DomainEvent for ModelTypeEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ModelTypeEvent::ModelTypeCreated { .. } => "ModelTypeCreated",
            ModelTypeEvent::ModelTypeUpdated { .. } => "ModelTypeUpdated",
            ModelTypeEvent::ModelTypeDeleted => "ModelTypeDeleted",
            ModelTypeEvent::ModelTypeReferenced { .. } => "ModelTypeReferenced",
            ModelTypeEvent::ModelTypeUnreferenced { .. } => "ModelTypeUnreferenced",
        }
    }
}

#[derive(Debug)]
pub struct ModelType;

impl Aggregate for ModelType {
    const SERVICE: &'static str = "template";
    const NAME: &'static str = "model_type";
    type State = ModelTypeState;
    type Command = ModelTypeCommand;
    type Event = ModelTypeEvent;

    fn handle(
        state: &ModelTypeState,
        command: ModelTypeCommand,
    ) -> Result<Vec<ModelTypeEvent>, Rejection> {
        use ModelTypeCommand as C;
        use ModelTypeEvent as E;
        match command {
            C::CreateModelType {
                model_type_id,
                name,
                description,
                goal,
                configuration,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "model_type_exists",
                        "the model type already exists",
                    ));
                }
                check_name("name", &name)?;
                check_description(&description)?;
                check_configuration(&configuration)?;
                Ok(vec![E::ModelTypeCreated {
                    model_type_id,
                    name,
                    description,
                    goal,
                    configuration,
                }])
            }
            // Unreferencing must work after deletion too: deletion requires no references,
            // but a retried template deletion may arrive late.
            C::UnreferenceModelType { template_id } => {
                Ok(references::remove(&state.references, template_id)
                    .map(|template_id| E::ModelTypeUnreferenced { template_id })
                    .into_iter()
                    .collect())
            }
            _ if !state.is_live() => Err(gone("model type")),
            C::UpdateModelType {
                description,
                goal,
                configuration,
            } => {
                check_description(&description)?;
                check_configuration(&configuration)?;
                if description == state.description
                    && goal == state.goal
                    && configuration == state.configuration
                {
                    return Ok(Vec::new());
                }
                Ok(vec![E::ModelTypeUpdated {
                    description,
                    goal,
                    configuration,
                }])
            }
            C::DeleteModelType => {
                references::ensure_unreferenced(
                    &state.references,
                    "model_type_in_use",
                    "model type",
                )?;
                Ok(vec![E::ModelTypeDeleted])
            }
            C::ReferenceModelType { template_id } => {
                Ok(references::add(&state.references, template_id)
                    .map(|template_id| E::ModelTypeReferenced { template_id })
                    .into_iter()
                    .collect())
            }
        }
    }

    fn apply(state: &mut ModelTypeState, event: &ModelTypeEvent) {
        use ModelTypeEvent as E;
        match event {
            E::ModelTypeCreated {
                model_type_id,
                name,
                description,
                goal,
                configuration,
            } => {
                *state = ModelTypeState {
                    id: Some(*model_type_id),
                    name: name.clone(),
                    description: description.clone(),
                    goal: *goal,
                    configuration: configuration.clone(),
                    ..ModelTypeState::default()
                };
            }
            E::ModelTypeUpdated {
                description,
                goal,
                configuration,
            } => {
                state.description.clone_from(description);
                state.goal = *goal;
                state.configuration.clone_from(configuration);
            }
            E::ModelTypeDeleted => state.deleted = true,
            E::ModelTypeReferenced { template_id } => {
                state.references.insert(*template_id);
            }
            E::ModelTypeUnreferenced { template_id } => {
                state.references.remove(template_id);
            }
        }
    }
}

/// A JSON object of at most [`CONFIGURATION_MAX_BYTES`].
fn check_configuration(configuration: &serde_json::Value) -> Result<(), Rejection> {
    let size = serde_json::to_vec(configuration).map_or(usize::MAX, |b| b.len());
    if configuration.is_object() && size <= CONFIGURATION_MAX_BYTES {
        return Ok(());
    }
    Err(Rejection::new(
        "invalid_configuration",
        format!("`configuration` must be a JSON object of at most {CONFIGURATION_MAX_BYTES} bytes"),
    )
    .field("configuration"))
}
