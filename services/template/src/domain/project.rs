//! A project of a tenant: the container of datasets and templates. Its name is unique in the
//! tenant (kept by a reservation, see `crate::unique`).

use serde::{Deserialize, Serialize};
use trainyard_core::{Aggregate, DomainEvent, ProjectId, Rejection, TenantId};

use super::{check_description, check_name, gone};

#[derive(Debug, Clone, Default)]
pub struct ProjectState {
    pub id: Option<ProjectId>,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: String,
    pub deleted: bool,
}

impl ProjectState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
}

#[derive(Debug, Clone)]
pub enum ProjectCommand {
    CreateProject {
        project_id: ProjectId,
        tenant_id: TenantId,
        name: String,
        description: String,
    },
    UpdateProject {
        name: String,
        description: String,
    },
    DeleteProject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ProjectEvent {
    ProjectCreated {
        project_id: ProjectId,
        tenant_id: TenantId,
        name: String,
        description: String,
    },
    ProjectUpdated {
        name: String,
        description: String,
    },
    ProjectDeleted,
}

impl DomainEvent for ProjectEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ProjectEvent::ProjectCreated { .. } => "ProjectCreated",
            ProjectEvent::ProjectUpdated { .. } => "ProjectUpdated",
            ProjectEvent::ProjectDeleted => "ProjectDeleted",
        }
    }
}

#[derive(Debug)]
pub struct Project;

impl Aggregate for Project {
    const SERVICE: &'static str = "template";
    const NAME: &'static str = "project";
    type State = ProjectState;
    type Command = ProjectCommand;
    type Event = ProjectEvent;

    fn handle(
        state: &ProjectState,
        command: ProjectCommand,
    ) -> Result<Vec<ProjectEvent>, Rejection> {
        match command {
            ProjectCommand::CreateProject {
                project_id,
                tenant_id,
                name,
                description,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "project_exists",
                        "the project already exists",
                    ));
                }
                check_name("name", &name)?;
                check_description(&description)?;
                Ok(vec![ProjectEvent::ProjectCreated {
                    project_id,
                    tenant_id,
                    name,
                    description,
                }])
            }
            _ if !state.is_live() => Err(gone("project")),
            ProjectCommand::UpdateProject { name, description } => {
                check_name("name", &name)?;
                check_description(&description)?;
                if name == state.name && description == state.description {
                    return Ok(Vec::new());
                }
                Ok(vec![ProjectEvent::ProjectUpdated { name, description }])
            }
            ProjectCommand::DeleteProject => Ok(vec![ProjectEvent::ProjectDeleted]),
        }
    }

    fn apply(state: &mut ProjectState, event: &ProjectEvent) {
        match event {
            ProjectEvent::ProjectCreated {
                project_id,
                tenant_id,
                name,
                description,
            } => {
                *state = ProjectState {
                    id: Some(*project_id),
                    tenant_id: *tenant_id,
                    name: name.clone(),
                    description: description.clone(),
                    deleted: false,
                };
            }
            ProjectEvent::ProjectUpdated { name, description } => {
                state.name.clone_from(name);
                state.description.clone_from(description);
            }
            ProjectEvent::ProjectDeleted => state.deleted = true,
        }
    }
}
