//! A user: login (unique per tenant through a reservation), display name, roles, the
//! must-change-password flag and the blocked flag. The password hash itself is kept out of the
//! log (see `credentials`): an argon2 hash of a human password can be attacked offline, and the
//! log is replicated to every service and kept forever.

use serde::{Deserialize, Serialize};
use trainyard_core::{ActorId, Aggregate, DomainEvent, Rejection, TenantId};

use super::{check_text, gone, RoleId};

#[derive(Debug, Clone, Default)]
pub struct UserState {
    pub id: Option<ActorId>,
    pub tenant_id: Option<TenantId>,
    pub login: String,
    pub display_name: String,
    pub roles: Vec<RoleId>,
    pub blocked: bool,
    pub must_change_password: bool,
    pub deleted: bool,
}

impl UserState {
    /// Exists and is not deleted.
    pub fn is_live(&self) -> bool {
        self.id.is_some() && !self.deleted
    }
}

#[derive(Debug, Clone)]
pub enum UserCommand {
    CreateUser {
        user_id: ActorId,
        tenant_id: TenantId,
        login: String,
        display_name: String,
        roles: Vec<RoleId>,
        must_change_password: bool,
    },
    UpdateUser {
        display_name: String,
    },
    /// The new hash is already stored; this records the change and the flag.
    ChangePassword {
        must_change_password: bool,
    },
    SetRoles {
        roles: Vec<RoleId>,
    },
    BlockUser,
    UnblockUser,
    DeleteUser,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum UserEvent {
    UserCreated {
        user_id: ActorId,
        tenant_id: TenantId,
        login: String,
        display_name: String,
        roles: Vec<RoleId>,
        must_change_password: bool,
    },
    UserUpdated {
        display_name: String,
    },
    UserPasswordChanged {
        must_change_password: bool,
    },
    UserRolesSet {
        roles: Vec<RoleId>,
    },
    UserBlocked,
    UserUnblocked,
    UserDeleted,
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        match self {
            UserEvent::UserCreated { .. } => "UserCreated",
            UserEvent::UserUpdated { .. } => "UserUpdated",
            UserEvent::UserPasswordChanged { .. } => "UserPasswordChanged",
            UserEvent::UserRolesSet { .. } => "UserRolesSet",
            UserEvent::UserBlocked => "UserBlocked",
            UserEvent::UserUnblocked => "UserUnblocked",
            UserEvent::UserDeleted => "UserDeleted",
        }
    }
}

/// Logins: 1–64 characters of letters, digits, `-`, `_`, `.`, `@` (e-mail addresses work).
pub fn check_login(login: &str) -> Result<(), Rejection> {
    let length = login.chars().count();
    let valid = (1..=64).contains(&length)
        && login
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if valid {
        Ok(())
    } else {
        Err(Rejection::new(
            "invalid_login",
            "login must be 1–64 letters, digits, `-`, `_`, `.` or `@`",
        )
        .field("login"))
    }
}

/// The password policy: at least 8 characters, with a lower-case and an upper-case Latin letter
/// and a character that is neither a letter nor a digit.
pub fn check_password_policy(field: &str, password: &str) -> Result<(), Rejection> {
    let long_enough = password.chars().count() >= 8;
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let special = password.chars().any(|c| !c.is_alphanumeric());
    if long_enough && lower && upper && special {
        Ok(())
    } else {
        Err(Rejection::new(
            "weak_password",
            "the password needs at least 8 characters, a lower-case and an upper-case Latin letter and a character that is not a letter or digit",
        )
        .field(field))
    }
}

#[derive(Debug)]
pub struct User;

impl Aggregate for User {
    const SERVICE: &'static str = "identity";
    const NAME: &'static str = "user";
    type State = UserState;
    type Command = UserCommand;
    type Event = UserEvent;

    fn handle(state: &UserState, command: UserCommand) -> Result<Vec<UserEvent>, Rejection> {
        if let UserCommand::CreateUser {
            user_id,
            tenant_id,
            login,
            display_name,
            roles,
            must_change_password,
        } = command
        {
            if state.id.is_some() {
                return Err(Rejection::conflict(
                    "user_exists",
                    "the user already exists",
                ));
            }
            check_login(&login)?;
            check_text("display_name", &display_name, 200)?;
            return Ok(vec![UserEvent::UserCreated {
                user_id,
                tenant_id,
                login,
                display_name,
                roles: dedup(roles),
                must_change_password,
            }]);
        }
        if !state.is_live() {
            return Err(gone("user"));
        }
        Ok(match command {
            UserCommand::CreateUser { .. } => unreachable!("handled above"),
            UserCommand::UpdateUser { display_name } => {
                check_text("display_name", &display_name, 200)?;
                vec![UserEvent::UserUpdated { display_name }]
            }
            UserCommand::ChangePassword {
                must_change_password,
            } => {
                vec![UserEvent::UserPasswordChanged {
                    must_change_password,
                }]
            }
            UserCommand::SetRoles { roles } => {
                let roles = dedup(roles);
                if roles == state.roles {
                    // Nothing changes, so no token needs to go stale.
                    vec![]
                } else {
                    vec![UserEvent::UserRolesSet { roles }]
                }
            }
            UserCommand::BlockUser if state.blocked => vec![],
            UserCommand::BlockUser => vec![UserEvent::UserBlocked],
            UserCommand::UnblockUser if !state.blocked => vec![],
            UserCommand::UnblockUser => vec![UserEvent::UserUnblocked],
            UserCommand::DeleteUser => vec![UserEvent::UserDeleted],
        })
    }

    fn apply(state: &mut UserState, event: &UserEvent) {
        match event {
            UserEvent::UserCreated {
                user_id,
                tenant_id,
                login,
                display_name,
                roles,
                must_change_password,
            } => {
                *state = UserState {
                    id: Some(*user_id),
                    tenant_id: Some(*tenant_id),
                    login: login.clone(),
                    display_name: display_name.clone(),
                    roles: roles.clone(),
                    must_change_password: *must_change_password,
                    ..UserState::default()
                };
            }
            UserEvent::UserUpdated { display_name } => state.display_name.clone_from(display_name),
            UserEvent::UserPasswordChanged {
                must_change_password,
            } => state.must_change_password = *must_change_password,
            UserEvent::UserRolesSet { roles } => state.roles.clone_from(roles),
            UserEvent::UserBlocked => state.blocked = true,
            UserEvent::UserUnblocked => state.blocked = false,
            UserEvent::UserDeleted => state.deleted = true,
        }
    }
}

fn dedup(mut roles: Vec<RoleId>) -> Vec<RoleId> {
    roles.sort();
    roles.dedup();
    roles
}
