//! Datasets of a project. Each upload is an immutable, numbered version with a content digest;
//! a background validator moves it `uploaded` → `validating` → `ready` (with statistics) or
//! `invalid` (with the reason). A template pins one ready version; a referenced dataset cannot be
//! deleted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::{
    Aggregate, DatasetId, DomainEvent, ProjectId, Rejection, TenantId, TrainingTemplateId,
};
use utoipa::ToSchema;

use super::references::{self, References};
use super::{check_description, check_name, gone};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Uploaded,
    Validating,
    Ready,
    Invalid,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Uploaded => "uploaded",
            VersionStatus::Validating => "validating",
            VersionStatus::Ready => "ready",
            VersionStatus::Invalid => "invalid",
        }
    }
}

/// Why a version is invalid: the engine's stable code, its message and the file at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvalidReason {
    pub code: String,
    pub message: String,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClassCount {
    pub name: String,
    pub images: u64,
}

/// What validation learned about a ready version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DatasetStatistics {
    pub classes: Vec<ClassCount>,
    pub images: u64,
    /// Files that are not images of a supported format (ignored).
    pub skipped_files: u64,
    /// Image count per format, e.g. `png`.
    pub formats: std::collections::BTreeMap<String, u64>,
    /// Image count per `WIDTHxHEIGHT`.
    pub sizes: std::collections::BTreeMap<String, u64>,
    pub min_width: u32,
    pub max_width: u32,
    pub min_height: u32,
    pub max_height: u32,
    pub any_color: bool,
    /// The archive came with `train/` and `test/` folders.
    pub explicit_split: bool,
    pub explicit_test_images: u64,
    /// The engine's digest over paths and contents (training lineage).
    pub content_digest: String,
}

/// The uploaded archive of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Object name in the datasets bucket.
    pub object: String,
    /// SHA-256 of the archive's bytes.
    pub sha256: String,
    pub size: u64,
    pub file_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetVersion {
    pub version: u32,
    pub upload: Upload,
    pub uploaded_at: DateTime<Utc>,
    pub status: VersionStatus,
    pub reason: Option<InvalidReason>,
    pub statistics: Option<DatasetStatistics>,
}

#[derive(Debug, Clone, Default)]
pub struct DatasetState {
    pub id: Option<DatasetId>,
    pub tenant_id: TenantId,
    pub project_id: Option<ProjectId>,
    pub name: String,
    pub description: String,
    pub versions: Vec<DatasetVersion>,
    pub deleted: bool,
    pub references: References,
}

impl DatasetState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }

    pub fn version(&self, version: u32) -> Option<&DatasetVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// The newest version that is ready for training.
    pub fn latest_ready(&self) -> Option<&DatasetVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.status == VersionStatus::Ready)
    }
}

#[derive(Debug, Clone)]
pub enum DatasetCommand {
    CreateDataset {
        dataset_id: DatasetId,
        tenant_id: TenantId,
        project_id: ProjectId,
        name: String,
        description: String,
    },
    UpdateDataset {
        name: String,
        description: String,
    },
    AddVersion {
        upload: Upload,
        at: DateTime<Utc>,
    },
    StartValidation {
        version: u32,
    },
    CompleteValidation {
        version: u32,
        statistics: DatasetStatistics,
    },
    FailValidation {
        version: u32,
        reason: InvalidReason,
    },
    DeleteDataset,
    ReferenceDataset {
        template_id: TrainingTemplateId,
        version: u32,
    },
    UnreferenceDataset {
        template_id: TrainingTemplateId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DatasetEvent {
    DatasetCreated {
        dataset_id: DatasetId,
        tenant_id: TenantId,
        project_id: ProjectId,
        name: String,
        description: String,
    },
    DatasetUpdated {
        name: String,
        description: String,
    },
    DatasetVersionUploaded {
        version: u32,
        upload: Upload,
        at: DateTime<Utc>,
    },
    DatasetValidationStarted {
        version: u32,
    },
    DatasetVersionReady {
        version: u32,
        statistics: DatasetStatistics,
    },
    DatasetVersionInvalid {
        version: u32,
        reason: InvalidReason,
    },
    DatasetDeleted,
    DatasetReferenced {
        template_id: TrainingTemplateId,
    },
    DatasetUnreferenced {
        template_id: TrainingTemplateId,
    },
}

impl DomainEvent for DatasetEvent {
    fn event_type(&self) -> &'static str {
        match self {
            DatasetEvent::DatasetCreated { .. } => "DatasetCreated",
            DatasetEvent::DatasetUpdated { .. } => "DatasetUpdated",
            DatasetEvent::DatasetVersionUploaded { .. } => "DatasetVersionUploaded",
            DatasetEvent::DatasetValidationStarted { .. } => "DatasetValidationStarted",
            DatasetEvent::DatasetVersionReady { .. } => "DatasetVersionReady",
            DatasetEvent::DatasetVersionInvalid { .. } => "DatasetVersionInvalid",
            DatasetEvent::DatasetDeleted => "DatasetDeleted",
            DatasetEvent::DatasetReferenced { .. } => "DatasetReferenced",
            DatasetEvent::DatasetUnreferenced { .. } => "DatasetUnreferenced",
        }
    }
}

#[derive(Debug)]
pub struct Dataset;

impl Aggregate for Dataset {
    const SERVICE: &'static str = "template";
    const NAME: &'static str = "dataset";
    type State = DatasetState;
    type Command = DatasetCommand;
    type Event = DatasetEvent;

    fn handle(
        state: &DatasetState,
        command: DatasetCommand,
    ) -> Result<Vec<DatasetEvent>, Rejection> {
        use DatasetCommand as C;
        use DatasetEvent as E;
        match command {
            C::CreateDataset {
                dataset_id,
                tenant_id,
                project_id,
                name,
                description,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "dataset_exists",
                        "the dataset already exists",
                    ));
                }
                check_name("name", &name)?;
                check_description(&description)?;
                Ok(vec![E::DatasetCreated {
                    dataset_id,
                    tenant_id,
                    project_id,
                    name,
                    description,
                }])
            }
            C::UnreferenceDataset { template_id } => {
                Ok(references::remove(&state.references, template_id)
                    .map(|template_id| E::DatasetUnreferenced { template_id })
                    .into_iter()
                    .collect())
            }
            // Validation of a version uploaded before the dataset was deleted still records its
            // outcome, so nothing is left `validating` forever.
            C::StartValidation { version } => validation_started(state, version),
            C::CompleteValidation {
                version,
                statistics,
            } => finish(
                state,
                version,
                E::DatasetVersionReady {
                    version,
                    statistics,
                },
            ),
            C::FailValidation { version, reason } => {
                finish(state, version, E::DatasetVersionInvalid { version, reason })
            }
            _ if !state.is_live() => Err(gone("dataset")),
            C::UpdateDataset { name, description } => {
                check_name("name", &name)?;
                check_description(&description)?;
                if name == state.name && description == state.description {
                    return Ok(Vec::new());
                }
                Ok(vec![E::DatasetUpdated { name, description }])
            }
            C::AddVersion { upload, at } => {
                if let Some(same) = state
                    .versions
                    .iter()
                    .find(|v| v.upload.sha256 == upload.sha256)
                {
                    return Err(Rejection::conflict(
                        "duplicate_upload",
                        format!("version {} has exactly these bytes", same.version),
                    ));
                }
                let version = state.versions.last().map_or(1, |v| v.version + 1);
                Ok(vec![E::DatasetVersionUploaded {
                    version,
                    upload,
                    at,
                }])
            }
            C::DeleteDataset => {
                references::ensure_unreferenced(&state.references, "dataset_in_use", "dataset")?;
                Ok(vec![E::DatasetDeleted])
            }
            C::ReferenceDataset {
                template_id,
                version,
            } => {
                let ready = state
                    .version(version)
                    .is_some_and(|v| v.status == VersionStatus::Ready);
                if !ready {
                    return Err(Rejection::new(
                        "dataset_not_ready",
                        format!("dataset version {version} does not exist or is not ready"),
                    )
                    .field("dataset.version"));
                }
                Ok(references::add(&state.references, template_id)
                    .map(|template_id| E::DatasetReferenced { template_id })
                    .into_iter()
                    .collect())
            }
        }
    }

    fn apply(state: &mut DatasetState, event: &DatasetEvent) {
        use DatasetEvent as E;
        match event {
            E::DatasetCreated {
                dataset_id,
                tenant_id,
                project_id,
                name,
                description,
            } => {
                *state = DatasetState {
                    id: Some(*dataset_id),
                    tenant_id: *tenant_id,
                    project_id: Some(*project_id),
                    name: name.clone(),
                    description: description.clone(),
                    ..DatasetState::default()
                };
            }
            E::DatasetUpdated { name, description } => {
                state.name.clone_from(name);
                state.description.clone_from(description);
            }
            E::DatasetVersionUploaded {
                version,
                upload,
                at,
            } => state.versions.push(DatasetVersion {
                version: *version,
                upload: upload.clone(),
                uploaded_at: *at,
                status: VersionStatus::Uploaded,
                reason: None,
                statistics: None,
            }),
            E::DatasetValidationStarted { version } => {
                set(state, *version, |v| v.status = VersionStatus::Validating);
            }
            E::DatasetVersionReady {
                version,
                statistics,
            } => set(state, *version, |v| {
                v.status = VersionStatus::Ready;
                v.statistics = Some(statistics.clone());
            }),
            E::DatasetVersionInvalid { version, reason } => set(state, *version, |v| {
                v.status = VersionStatus::Invalid;
                v.reason = Some(reason.clone());
            }),
            E::DatasetDeleted => state.deleted = true,
            E::DatasetReferenced { template_id } => {
                state.references.insert(*template_id);
            }
            E::DatasetUnreferenced { template_id } => {
                state.references.remove(template_id);
            }
        }
    }
}

fn set(state: &mut DatasetState, version: u32, change: impl FnOnce(&mut DatasetVersion)) {
    if let Some(v) = state.versions.iter_mut().find(|v| v.version == version) {
        change(v);
    }
}

fn validation_started(state: &DatasetState, version: u32) -> Result<Vec<DatasetEvent>, Rejection> {
    match state.version(version).map(|v| v.status) {
        None => Err(gone("dataset version")),
        Some(VersionStatus::Uploaded) => {
            Ok(vec![DatasetEvent::DatasetValidationStarted { version }])
        }
        // A redelivered validation order: already started or finished.
        Some(_) => Ok(Vec::new()),
    }
}

fn finish(
    state: &DatasetState,
    version: u32,
    outcome: DatasetEvent,
) -> Result<Vec<DatasetEvent>, Rejection> {
    match state.version(version).map(|v| v.status) {
        None => Err(gone("dataset version")),
        Some(VersionStatus::Ready | VersionStatus::Invalid) => Ok(Vec::new()),
        Some(_) => Ok(vec![outcome]),
    }
}
