//! Training templates (шаблон обучения). Every edit is a new immutable version; a training
//! process pins the version it was created from, and a pinned template cannot be deleted. The
//! name is unique in the project (a reservation, see `crate::unique`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::training::{Augmentation, TechnicalParameters};
use trainyard_core::{
    Aggregate, BaseModelId, DatasetId, DomainEvent, ModelTypeId, ProjectId, Rejection, TenantId,
    TrainingProcessId, TrainingTemplateId,
};

use super::{check_description, check_name, gone};

/// A dataset version a template trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetRef {
    pub dataset_id: DatasetId,
    pub version: u32,
}

/// Everything a version says besides its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSpec {
    pub model_type_id: ModelTypeId,
    pub base_model_id: BaseModelId,
    pub description: String,
    pub augmentation: Augmentation,
    pub parameters: TechnicalParameters,
    pub dataset: Option<DatasetRef>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateVersion {
    pub version: u32,
    pub name: String,
    pub spec: TemplateSpec,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct TemplateState {
    pub id: Option<TrainingTemplateId>,
    pub tenant_id: TenantId,
    pub project_id: Option<ProjectId>,
    pub versions: Vec<TemplateVersion>,
    pub deleted: bool,
    /// Processes created from this template, with the version each pinned.
    pub pins: BTreeMap<TrainingProcessId, u32>,
}

impl TemplateState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }

    pub fn current(&self) -> Option<&TemplateVersion> {
        self.versions.last()
    }

    pub fn version(&self, version: u32) -> Option<&TemplateVersion> {
        self.versions.iter().find(|v| v.version == version)
    }
}

#[derive(Debug, Clone)]
pub enum TemplateCommand {
    CreateTemplate {
        template_id: TrainingTemplateId,
        tenant_id: TenantId,
        project_id: ProjectId,
        name: String,
        spec: TemplateSpec,
        at: DateTime<Utc>,
    },
    EditTemplate {
        name: String,
        spec: TemplateSpec,
        at: DateTime<Utc>,
        /// Refuse unless the current version is this one (lost-update protection for editors).
        expected_version: Option<u32>,
    },
    DeleteTemplate,
    PinTemplate {
        process_id: TrainingProcessId,
        /// `None` pins the current version.
        version: Option<u32>,
    },
    UnpinTemplate {
        process_id: TrainingProcessId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TemplateEvent {
    TemplateCreated {
        template_id: TrainingTemplateId,
        tenant_id: TenantId,
        project_id: ProjectId,
        name: String,
        spec: TemplateSpec,
        at: DateTime<Utc>,
    },
    TemplateEdited {
        version: u32,
        name: String,
        spec: TemplateSpec,
        at: DateTime<Utc>,
    },
    TemplateDeleted,
    TemplatePinned {
        process_id: TrainingProcessId,
        version: u32,
    },
    TemplateUnpinned {
        process_id: TrainingProcessId,
    },
}

impl DomainEvent for TemplateEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TemplateEvent::TemplateCreated { .. } => "TemplateCreated",
            TemplateEvent::TemplateEdited { .. } => "TemplateEdited",
            TemplateEvent::TemplateDeleted => "TemplateDeleted",
            TemplateEvent::TemplatePinned { .. } => "TemplatePinned",
            TemplateEvent::TemplateUnpinned { .. } => "TemplateUnpinned",
        }
    }
}

#[derive(Debug)]
pub struct TrainingTemplate;

impl Aggregate for TrainingTemplate {
    const SERVICE: &'static str = "template";
    const NAME: &'static str = "training_template";
    type State = TemplateState;
    type Command = TemplateCommand;
    type Event = TemplateEvent;

    fn handle(
        state: &TemplateState,
        command: TemplateCommand,
    ) -> Result<Vec<TemplateEvent>, Rejection> {
        use TemplateCommand as C;
        use TemplateEvent as E;
        match command {
            C::CreateTemplate {
                template_id,
                tenant_id,
                project_id,
                name,
                spec,
                at,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "template_exists",
                        "the training template already exists",
                    ));
                }
                check(&name, &spec)?;
                Ok(vec![E::TemplateCreated {
                    template_id,
                    tenant_id,
                    project_id,
                    name,
                    spec,
                    at,
                }])
            }
            _ if !state.is_live() => Err(gone("training template")),
            C::EditTemplate {
                name,
                spec,
                at,
                expected_version,
            } => edit(state, name, spec, at, expected_version),
            C::DeleteTemplate => {
                if !state.pins.is_empty() {
                    return Err(Rejection::conflict(
                        "template_in_use",
                        format!(
                            "{} training process(es) were created from this template; delete them first",
                            state.pins.len()
                        ),
                    ));
                }
                Ok(vec![E::TemplateDeleted])
            }
            C::PinTemplate {
                process_id,
                version,
            } => pin(state, process_id, version),
            C::UnpinTemplate { process_id } => Ok(if state.pins.contains_key(&process_id) {
                vec![E::TemplateUnpinned { process_id }]
            } else {
                Vec::new()
            }),
        }
    }

    fn apply(state: &mut TemplateState, event: &TemplateEvent) {
        use TemplateEvent as E;
        match event {
            E::TemplateCreated {
                template_id,
                tenant_id,
                project_id,
                name,
                spec,
                at,
            } => {
                *state = TemplateState {
                    id: Some(*template_id),
                    tenant_id: *tenant_id,
                    project_id: Some(*project_id),
                    versions: vec![TemplateVersion {
                        version: 1,
                        name: name.clone(),
                        spec: spec.clone(),
                        created_at: *at,
                    }],
                    ..TemplateState::default()
                };
            }
            E::TemplateEdited {
                version,
                name,
                spec,
                at,
            } => state.versions.push(TemplateVersion {
                version: *version,
                name: name.clone(),
                spec: spec.clone(),
                created_at: *at,
            }),
            E::TemplateDeleted => state.deleted = true,
            E::TemplatePinned {
                process_id,
                version,
            } => {
                state.pins.insert(*process_id, *version);
            }
            E::TemplateUnpinned { process_id } => {
                state.pins.remove(process_id);
            }
        }
    }
}

fn check(name: &str, spec: &TemplateSpec) -> Result<(), Rejection> {
    check_name("name", name)?;
    check_description(&spec.description)?;
    spec.parameters.check()
}

fn edit(
    state: &TemplateState,
    name: String,
    spec: TemplateSpec,
    at: DateTime<Utc>,
    expected_version: Option<u32>,
) -> Result<Vec<TemplateEvent>, Rejection> {
    let Some(current) = state.current() else {
        return Err(gone("training template"));
    };
    if let Some(expected) = expected_version.filter(|v| *v != current.version) {
        return Err(Rejection::conflict(
            "version_mismatch",
            format!(
                "the template is at version {}, not {expected}; reload and retry",
                current.version
            ),
        )
        .field("expected_version"));
    }
    check(&name, &spec)?;
    if name == current.name && spec == current.spec {
        return Ok(Vec::new());
    }
    Ok(vec![TemplateEvent::TemplateEdited {
        version: current.version + 1,
        name,
        spec,
        at,
    }])
}

fn pin(
    state: &TemplateState,
    process_id: TrainingProcessId,
    version: Option<u32>,
) -> Result<Vec<TemplateEvent>, Rejection> {
    let current = state.current().map_or(0, |v| v.version);
    let version = version.unwrap_or(current);
    if state.version(version).is_none() {
        return Err(Rejection::new(
            "unknown_template_version",
            format!("the template has versions 1 to {current}"),
        )
        .field("version"));
    }
    match state.pins.get(&process_id) {
        Some(pinned) if *pinned == version => Ok(Vec::new()),
        Some(pinned) => Err(Rejection::conflict(
            "already_pinned",
            format!("the process already pins version {pinned}"),
        )
        .field("process_id")),
        None => Ok(vec![TemplateEvent::TemplatePinned {
            process_id,
            version,
        }]),
    }
}
