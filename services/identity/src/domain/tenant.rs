//! A tenant: the isolation unit. Its name is unique installation-wide (a reservation, taken by
//! the caller before the command runs).

use serde::{Deserialize, Serialize};
use trainyard_core::{Aggregate, DomainEvent, Rejection, TenantId};

use super::check_name;

#[derive(Debug, Clone, Default)]
pub struct TenantState {
    pub id: Option<TenantId>,
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum TenantCommand {
    CreateTenant { tenant_id: TenantId, name: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum TenantEvent {
    TenantCreated { tenant_id: TenantId, name: String },
}

impl DomainEvent for TenantEvent {
    fn event_type(&self) -> &'static str {
        match self {
            TenantEvent::TenantCreated { .. } => "TenantCreated",
        }
    }
}

#[derive(Debug)]
pub struct Tenant;

impl Aggregate for Tenant {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "tenant";
    type State = TenantState;
    type Command = TenantCommand;
    type Event = TenantEvent;

    fn handle(state: &TenantState, command: TenantCommand) -> Result<Vec<TenantEvent>, Rejection> {
        match command {
            TenantCommand::CreateTenant { tenant_id, name } => {
                check_name("name", &name)?;
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "tenant_exists",
                        "the tenant already exists",
                    ));
                }
                Ok(vec![TenantEvent::TenantCreated { tenant_id, name }])
            }
        }
    }

    fn apply(state: &mut TenantState, event: &TenantEvent) {
        match event {
            TenantEvent::TenantCreated { tenant_id, name } => {
                state.id = Some(*tenant_id);
                state.name.clone_from(name);
            }
        }
    }
}
