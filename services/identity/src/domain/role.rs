//! A tenant's own role: a named set of permissions. Built-in roles are not aggregates (see
//! [`super::BuiltinRole`]) and so cannot be edited or deleted.

use serde::{Deserialize, Serialize};
use trainyard_core::access::{Permission, Rights};
use trainyard_core::{Aggregate, DomainEvent, Rejection, TenantId};

use super::{check_name, check_text, gone, RoleId};

#[derive(Debug, Clone, Default)]
pub struct RoleState {
    pub id: Option<RoleId>,
    pub tenant_id: Option<TenantId>,
    pub name: String,
    pub description: String,
    pub permissions: Vec<Permission>,
    pub deleted: bool,
}

impl RoleState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }

    pub fn rights(&self) -> Rights {
        Rights::from_permissions(&self.permissions)
    }
}

#[derive(Debug, Clone)]
pub enum RoleCommand {
    CreateRole {
        role_id: RoleId,
        tenant_id: TenantId,
        name: String,
        description: String,
        permissions: Vec<Permission>,
    },
    UpdateRole {
        name: String,
        description: String,
        permissions: Vec<Permission>,
    },
    DeleteRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum RoleEvent {
    RoleCreated {
        role_id: RoleId,
        tenant_id: TenantId,
        name: String,
        description: String,
        permissions: Vec<Permission>,
    },
    RoleUpdated {
        name: String,
        description: String,
        permissions: Vec<Permission>,
    },
    RoleDeleted,
}

impl DomainEvent for RoleEvent {
    fn event_type(&self) -> &'static str {
        match self {
            RoleEvent::RoleCreated { .. } => "RoleCreated",
            RoleEvent::RoleUpdated { .. } => "RoleUpdated",
            RoleEvent::RoleDeleted => "RoleDeleted",
        }
    }
}

#[derive(Debug)]
pub struct Role;

impl Aggregate for Role {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "role";
    type State = RoleState;
    type Command = RoleCommand;
    type Event = RoleEvent;

    fn handle(state: &RoleState, command: RoleCommand) -> Result<Vec<RoleEvent>, Rejection> {
        match command {
            RoleCommand::CreateRole {
                role_id,
                tenant_id,
                name,
                description,
                permissions,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "role_exists",
                        "the role already exists",
                    ));
                }
                check_name("name", &name)?;
                check_text("description", &description, 1000)?;
                let permissions = normalise(permissions);
                Ok(vec![RoleEvent::RoleCreated {
                    role_id,
                    tenant_id,
                    name,
                    description,
                    permissions,
                }])
            }
            _ if !state.is_live() => Err(gone("role")),
            RoleCommand::UpdateRole {
                name,
                description,
                permissions,
            } => {
                check_name("name", &name)?;
                check_text("description", &description, 1000)?;
                let permissions = normalise(permissions);
                Ok(vec![RoleEvent::RoleUpdated {
                    name,
                    description,
                    permissions,
                }])
            }
            RoleCommand::DeleteRole => Ok(vec![RoleEvent::RoleDeleted]),
        }
    }

    fn apply(state: &mut RoleState, event: &RoleEvent) {
        match event {
            RoleEvent::RoleCreated {
                role_id,
                tenant_id,
                name,
                description,
                permissions,
            } => {
                *state = RoleState {
                    id: Some(*role_id),
                    tenant_id: Some(*tenant_id),
                    name: name.clone(),
                    description: description.clone(),
                    permissions: permissions.clone(),
                    deleted: false,
                };
            }
            RoleEvent::RoleUpdated {
                name,
                description,
                permissions,
            } => {
                state.name.clone_from(name);
                state.description.clone_from(description);
                state.permissions.clone_from(permissions);
            }
            RoleEvent::RoleDeleted => state.deleted = true,
        }
    }
}

/// Sorted and without duplicates, so equal sets compare and serialise equally.
fn normalise(permissions: Vec<Permission>) -> Vec<Permission> {
    Rights::from_permissions(&permissions).permissions()
}
