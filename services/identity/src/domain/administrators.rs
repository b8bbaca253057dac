//! The administrator guard: one aggregate for the whole installation (id [`GUARD_ID`]) through
//! which every removal of an administrator passes before the user's own event is written. It is
//! what makes "never zero administrators" hold across user aggregates under concurrency.
//!
//! Who is an administrator is read from the users themselves (their aggregates, found through
//! the read model); what the guard adds is the removals already admitted. Admitting a removal
//! is an append with the guard's last sequence as expectation, so two removals decided at the
//! same time are serialised: the second is decided again and sees the first one pending. A
//! removal is admitted for one version of the user's aggregate, and the user's event is then
//! appended expecting exactly that version; if that fails, the user has moved on, and the
//! pending entry stops counting by itself (see [`super::authority::leaves_no_administrator`]).
//! Adding administrators needs no guard: a new administrator not yet in the read model is
//! merely not counted, which can only refuse a removal, never allow one too many.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trainyard_core::{ActorId, Aggregate, DomainEvent, Rejection, TenantId};

use super::authority::leaves_no_administrator;

/// The guard's aggregate id.
pub const GUARD_ID: &str = "installation";

#[derive(Debug, Clone, Default)]
pub struct GuardState {
    /// Admitted removals: user → the version of the user aggregate they were decided on.
    pub pending: BTreeMap<ActorId, u64>,
}

/// The other administrators of a scope as read: user and version of its aggregate.
pub type Others = Vec<(ActorId, u64)>;

#[derive(Debug, Clone)]
pub enum GuardCommand {
    /// `user` (at `user_version`) stops administering its tenant (when `tenant` is given, with
    /// the tenant's other administrators) and/or the installation (`installation`, likewise).
    AdmitRemoval {
        user_id: ActorId,
        tenant_id: TenantId,
        user_version: u64,
        tenant: Option<Others>,
        installation: Option<Others>,
    },
    /// The removal admitted on `user_version` did not happen after all.
    WithdrawRemoval { user_id: ActorId, user_version: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum GuardEvent {
    AdministratorRemovalAdmitted {
        user_id: ActorId,
        tenant_id: TenantId,
        user_version: u64,
        tenant: bool,
        installation: bool,
    },
    AdministratorRemovalWithdrawn {
        user_id: ActorId,
        user_version: u64,
    },
}

impl DomainEvent for GuardEvent {
    fn event_type(&self) -> &'static str {
        match self {
            GuardEvent::AdministratorRemovalAdmitted { .. } => "AdministratorRemovalAdmitted",
            GuardEvent::AdministratorRemovalWithdrawn { .. } => "AdministratorRemovalWithdrawn",
        }
    }
}

#[derive(Debug)]
pub struct AdministratorGuard;

impl Aggregate for AdministratorGuard {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "administrators";
    type State = GuardState;
    type Command = GuardCommand;
    type Event = GuardEvent;

    fn handle(state: &GuardState, command: GuardCommand) -> Result<Vec<GuardEvent>, Rejection> {
        match command {
            GuardCommand::AdmitRemoval {
                user_id,
                tenant_id,
                user_version,
                tenant,
                installation,
            } => {
                let none_left = |others: &Option<Others>| {
                    others
                        .as_ref()
                        .is_some_and(|o| leaves_no_administrator(o, &state.pending))
                };
                if none_left(&installation) {
                    return Err(Rejection::conflict(
                        "last_installation_administrator",
                        "this is the installation's last active Administrator",
                    ));
                }
                if none_left(&tenant) {
                    return Err(Rejection::conflict(
                        "last_tenant_administrator",
                        "this is the tenant's last active administrator",
                    ));
                }
                Ok(vec![GuardEvent::AdministratorRemovalAdmitted {
                    user_id,
                    tenant_id,
                    user_version,
                    tenant: tenant.is_some(),
                    installation: installation.is_some(),
                }])
            }
            GuardCommand::WithdrawRemoval {
                user_id,
                user_version,
            } => Ok(match state.pending.get(&user_id) {
                Some(v) if *v == user_version => vec![GuardEvent::AdministratorRemovalWithdrawn {
                    user_id,
                    user_version,
                }],
                _ => vec![],
            }),
        }
    }

    fn apply(state: &mut GuardState, event: &GuardEvent) {
        match event {
            GuardEvent::AdministratorRemovalAdmitted {
                user_id,
                user_version,
                ..
            } => {
                let entry = state.pending.entry(*user_id).or_default();
                *entry = (*entry).max(*user_version);
            }
            GuardEvent::AdministratorRemovalWithdrawn {
                user_id,
                user_version,
            } => {
                if state.pending.get(user_id) == Some(user_version) {
                    state.pending.remove(user_id);
                }
            }
        }
    }
}
