//! Who may act on which account, and which change would leave a tenant or the installation
//! without an administrator. Pure decisions over facts the caller gathers (what the caller and
//! the account hold); every handler that acts on an account asks these functions, so the rules
//! live here once.
//!
//! The rule: a caller acts on an account only if it holds every right that account holds, and
//! only an `Administrator` acts on an `Administrator`. Nobody deletes, blocks or demotes their
//! own account. Administrators of a tenant are its live, unblocked users holding
//! `TenantAdministrator` or `Administrator`; administrators of the installation are the live,
//! unblocked users holding `Administrator`. Service accounts are never counted as administrators:
//! nobody can log in as one to manage the tenant.

use std::collections::BTreeMap;

use trainyard_core::access::Rights;
use trainyard_core::{ActorId, ErrorKind, Rejection};

use super::user::UserState;
use super::{BuiltinRole, RoleId};

/// What an actor holds, as far as acting on accounts is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    pub rights: Rights,
    /// Holds the built-in `Administrator` role.
    pub administrator: bool,
    /// Holds `TenantAdministrator` or `Administrator`.
    pub tenant_administrator: bool,
}

impl Standing {
    /// Whether `self` keeps everything `before` had, built-in standing included (the test for
    /// changing one's own roles).
    pub fn keeps(&self, before: &Standing) -> bool {
        self.rights.contains(&before.rights)
            && (self.administrator || !before.administrator)
            && (self.tenant_administrator || !before.tenant_administrator)
    }
}

/// Who asks, as its token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub id: ActorId,
    pub rights: Rights,
    pub administrator: bool,
}

impl Caller {
    /// Whether the caller holds everything `standing` holds (the test for acting on it).
    pub fn covers(&self, standing: &Standing) -> bool {
        self.administrator || (!standing.administrator && self.rights.contains(&standing.rights))
    }
}

/// Everything one can do to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    ResetPassword,
    SetRoles,
    Block,
    Unblock,
    Edit,
    Delete,
    IssueApiKey,
    RevokeApiKey,
}

fn forbidden(code: &str, message: &str) -> Rejection {
    Rejection {
        kind: ErrorKind::Forbidden,
        ..Rejection::new(code, message)
    }
}

/// May `caller` do `action` to the account `target`, which holds `held`?
pub fn may_act_on(
    caller: &Caller,
    target: ActorId,
    held: &Standing,
    action: AccountAction,
) -> Result<(), Rejection> {
    if caller.id == target {
        match action {
            AccountAction::Delete => {
                return Err(Rejection::new(
                    "cannot_delete_self",
                    "you cannot delete your own account",
                ))
            }
            AccountAction::Block => {
                return Err(Rejection::new(
                    "cannot_block_self",
                    "you cannot block your own account",
                ))
            }
            _ => {}
        }
    }
    if caller.covers(held) {
        Ok(())
    } else {
        Err(forbidden(
            "account_outranks_caller",
            "the account holds rights you do not hold",
        ))
    }
}

/// May `caller` give the account `target`, which holds `held`, roles worth `granted`? Both the
/// account's current rights and the granted ones must be within the caller's, and nobody
/// lowers their own standing.
pub fn may_set_roles(
    caller: &Caller,
    target: ActorId,
    held: &Standing,
    granted: &Standing,
) -> Result<(), Rejection> {
    may_act_on(caller, target, held, AccountAction::SetRoles)?;
    if caller.id == target && !granted.keeps(held) {
        return Err(Rejection::new(
            "cannot_demote_self",
            "you cannot take rights or administrator roles away from your own account",
        )
        .field("roles"));
    }
    may_grant(caller, granted, "roles")
}

/// May `caller` hand out `granted` (to an account, or as a role's permissions in `field`)?
pub fn may_grant(caller: &Caller, granted: &Standing, field: &str) -> Result<(), Rejection> {
    if granted.administrator && !caller.administrator {
        return Err(forbidden(
            "administrator_role_reserved",
            "only an Administrator can grant the Administrator role",
        )
        .field(field));
    }
    if caller.covers(granted) {
        Ok(())
    } else {
        Err(forbidden("rights_not_held", "you cannot grant rights you do not hold").field(field))
    }
}

/// Where a user counts as an administrator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Administers {
    pub tenant: bool,
    pub installation: bool,
}

impl Administers {
    /// What `before` administers and `after` no longer does.
    pub fn lost(before: Administers, after: Administers) -> Administers {
        Administers {
            tenant: before.tenant && !after.tenant,
            installation: before.installation && !after.installation,
        }
    }

    pub fn any(&self) -> bool {
        self.tenant || self.installation
    }
}

/// Where `user` counts as an administrator now.
pub fn administers(user: &UserState) -> Administers {
    let active = user.is_live() && !user.blocked;
    let holds = |role: BuiltinRole| user.roles.contains(&role.id());
    Administers {
        tenant: active
            && (holds(BuiltinRole::TenantAdministrator) || holds(BuiltinRole::Administrator)),
        installation: active && holds(BuiltinRole::Administrator),
    }
}

/// Whether roles `roles` make their holder an administrator of the tenant.
pub fn administers_tenant(roles: &[RoleId]) -> bool {
    roles.iter().any(|r| BuiltinRole::from_id(*r).is_some())
}

/// Whether removing one administrator leaves none. `others` are the scope's other
/// administrators as read (id and the version of the account that was read); `pending` are
/// the removals already admitted, each with the account version it was decided on. An
/// administrator whose removal was admitted on the version read (or a later one) no longer
/// counts: that removal may land any moment.
pub fn leaves_no_administrator(
    others: &[(ActorId, u64)],
    pending: &BTreeMap<ActorId, u64>,
) -> bool {
    !others
        .iter()
        .any(|(id, version)| pending.get(id).is_none_or(|decided| decided < version))
}
