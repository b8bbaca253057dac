//! A service account: a non-human actor (trainer workers, RPA robots) that authenticates with API
//! keys. A key is shown once at issue; only its SHA-256 is recorded. A fast hash is enough here
//! (unlike passwords) because the secret is 256 random bits: there is nothing to guess.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use trainyard_core::{ActorId, Aggregate, DomainEvent, Rejection, TenantId};
use uuid::Uuid;

use super::{check_name, check_text, gone, RoleId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: Uuid,
    pub key_hash: String,
    pub issued_at: DateTime<Utc>,
    pub revoked: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceAccountState {
    pub id: Option<ActorId>,
    pub tenant_id: Option<TenantId>,
    pub name: String,
    pub description: String,
    pub roles: Vec<RoleId>,
    pub keys: Vec<ApiKeyRecord>,
    pub deleted: bool,
}

impl ServiceAccountState {
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }

    /// The live key with this id.
    pub fn active_key(&self, key_id: Uuid) -> Option<&ApiKeyRecord> {
        self.keys.iter().find(|k| k.key_id == key_id && !k.revoked)
    }
}

#[derive(Debug, Clone)]
pub enum ServiceAccountCommand {
    CreateServiceAccount {
        account_id: ActorId,
        tenant_id: TenantId,
        name: String,
        description: String,
        roles: Vec<RoleId>,
    },
    SetServiceAccountRoles {
        roles: Vec<RoleId>,
    },
    IssueApiKey {
        key_id: Uuid,
        key_hash: String,
        issued_at: DateTime<Utc>,
    },
    RevokeApiKey {
        key_id: Uuid,
    },
    DeleteServiceAccount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServiceAccountEvent {
    ServiceAccountCreated {
        account_id: ActorId,
        tenant_id: TenantId,
        name: String,
        description: String,
        roles: Vec<RoleId>,
    },
    ServiceAccountRolesSet {
        roles: Vec<RoleId>,
    },
    ApiKeyIssued {
        key_id: Uuid,
        key_hash: String,
        issued_at: DateTime<Utc>,
    },
    ApiKeyRevoked {
        key_id: Uuid,
    },
    ServiceAccountDeleted,
}

impl DomainEvent for ServiceAccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            ServiceAccountEvent::ServiceAccountCreated { .. } => "ServiceAccountCreated",
            ServiceAccountEvent::ServiceAccountRolesSet { .. } => "ServiceAccountRolesSet",
            ServiceAccountEvent::ApiKeyIssued { .. } => "ApiKeyIssued",
            ServiceAccountEvent::ApiKeyRevoked { .. } => "ApiKeyRevoked",
            ServiceAccountEvent::ServiceAccountDeleted => "ServiceAccountDeleted",
        }
    }
}

#[derive(Debug)]
pub struct ServiceAccount;

impl Aggregate for ServiceAccount {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "service_account";
    type State = ServiceAccountState;
    type Command = ServiceAccountCommand;
    type Event = ServiceAccountEvent;

    fn handle(
        state: &ServiceAccountState,
        command: ServiceAccountCommand,
    ) -> Result<Vec<ServiceAccountEvent>, Rejection> {
        use ServiceAccountCommand as C;
        use ServiceAccountEvent as E;
        match command {
            C::CreateServiceAccount {
                account_id,
                tenant_id,
                name,
                description,
                roles,
            } => {
                if state.id.is_some() {
                    return Err(Rejection::conflict(
                        "service_account_exists",
                        "the service account already exists",
                    ));
                }
                check_name("name", &name)?;
                check_text("description", &description, 1000)?;
                Ok(vec![E::ServiceAccountCreated {
                    account_id,
                    tenant_id,
                    name,
                    description,
                    roles,
                }])
            }
            _ if !state.is_live() => Err(gone("service account")),
            C::SetServiceAccountRoles { mut roles } => {
                roles.sort();
                roles.dedup();
                let mut held = state.roles.clone();
                held.sort();
                held.dedup();
                // Unchanged roles record nothing, so no token needs to go stale.
                Ok(if roles == held {
                    vec![]
                } else {
                    vec![E::ServiceAccountRolesSet { roles }]
                })
            }
            C::IssueApiKey {
                key_id,
                key_hash,
                issued_at,
            } => Ok(vec![E::ApiKeyIssued {
                key_id,
                key_hash,
                issued_at,
            }]),
            C::RevokeApiKey { key_id } => match state.active_key(key_id) {
                Some(_) => Ok(vec![E::ApiKeyRevoked { key_id }]),
                None => Err(gone("API key")),
            },
            C::DeleteServiceAccount => Ok(vec![E::ServiceAccountDeleted]),
        }
    }

    fn apply(state: &mut ServiceAccountState, event: &ServiceAccountEvent) {
        use ServiceAccountEvent as E;
        match event {
            E::ServiceAccountCreated {
                account_id,
                tenant_id,
                name,
                description,
                roles,
            } => {
                *state = ServiceAccountState {
                    id: Some(*account_id),
                    tenant_id: Some(*tenant_id),
                    name: name.clone(),
                    description: description.clone(),
                    roles: roles.clone(),
                    ..ServiceAccountState::default()
                };
            }
            E::ServiceAccountRolesSet { roles } => state.roles.clone_from(roles),
            E::ApiKeyIssued {
                key_id,
                key_hash,
                issued_at,
            } => state.keys.push(ApiKeyRecord {
                key_id: *key_id,
                key_hash: key_hash.clone(),
                issued_at: *issued_at,
                revoked: false,
            }),
            E::ApiKeyRevoked { key_id } => {
                for key in state.keys.iter_mut().filter(|k| k.key_id == *key_id) {
                    key.revoked = true;
                }
            }
            E::ServiceAccountDeleted => state.deleted = true,
        }
    }
}
