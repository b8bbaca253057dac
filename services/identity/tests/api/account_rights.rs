//! The rule "a caller acts on an account only if it holds every right the account holds, and
//! only Administrators act on Administrators", as a matrix: five kinds of account, each as caller
//! and as target, times every action on an account. A refused call must change nothing.

use std::collections::HashMap;

use serde_json::{json, Value};
use trainyard_auth::{Entity, Right, Rights};
use trainyard_identity::domain::BuiltinRole;

use crate::helpers::{spawn_app, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// A user holding `Administrator`.
    Admin,
    /// A user holding `TenantAdministrator`.
    TenantAdmin,
    /// A user whose only right is `users:manage`.
    UsersManage,
    /// A service account holding `TenantAdministrator`.
    StrongAccount,
    /// A service account holding every `users` right and nothing else.
    WeakAccount,
}

use Kind::*;

const KINDS: [Kind; 5] = [Admin, TenantAdmin, UsersManage, StrongAccount, WeakAccount];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    ResetPassword,
    SetRoles,
    Block,
    Unblock,
    Edit,
    Delete,
    IssueKey,
    RevokeKey,
}

use Action::*;

/// What a cell expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// The action's success status.
    Y,
    /// 403 `account_outranks_caller`.
    O,
    /// 403 `forbidden`: the caller lacks the action's permission.
    P,
    /// The action does not exist for this kind of account.
    N,
}

use Want::*;

/// Caller, action, expected outcome on a fresh target of each kind, in the order of [`KINDS`]:
/// Admin, TenantAdmin, UsersManage, StrongAccount, WeakAccount.
#[rustfmt::skip]
const MATRIX: &[(Kind, Action, [Want; 5])] = &[
    (Admin,         ResetPassword, [Y, Y, Y, N, N]),
    (Admin,         SetRoles,      [Y, Y, Y, Y, Y]),
    (Admin,         Block,         [Y, Y, Y, N, N]),
    (Admin,         Unblock,       [Y, Y, Y, N, N]),
    (Admin,         Edit,          [Y, Y, Y, N, N]),
    (Admin,         Delete,        [Y, Y, Y, Y, Y]),
    (Admin,         IssueKey,      [N, N, N, Y, Y]),
    (Admin,         RevokeKey,     [N, N, N, Y, Y]),
    (TenantAdmin,   ResetPassword, [O, Y, Y, N, N]),
    (TenantAdmin,   SetRoles,      [O, Y, Y, Y, Y]),
    (TenantAdmin,   Block,         [O, Y, Y, N, N]),
    (TenantAdmin,   Unblock,       [O, Y, Y, N, N]),
    (TenantAdmin,   Edit,          [O, Y, Y, N, N]),
    (TenantAdmin,   Delete,        [O, Y, Y, Y, Y]),
    (TenantAdmin,   IssueKey,      [N, N, N, Y, Y]),
    (TenantAdmin,   RevokeKey,     [N, N, N, Y, Y]),
    (UsersManage,   ResetPassword, [O, O, Y, N, N]),
    (UsersManage,   SetRoles,      [O, O, Y, O, O]),
    (UsersManage,   Block,         [O, O, Y, N, N]),
    (UsersManage,   Unblock,       [O, O, Y, N, N]),
    (UsersManage,   Edit,          [P, P, P, N, N]),
    (UsersManage,   Delete,        [P, P, P, P, P]),
    (UsersManage,   IssueKey,      [N, N, N, O, O]),
    (UsersManage,   RevokeKey,     [N, N, N, O, O]),
    (StrongAccount, ResetPassword, [O, Y, Y, N, N]),
    (StrongAccount, SetRoles,      [O, Y, Y, Y, Y]),
    (StrongAccount, Block,         [O, Y, Y, N, N]),
    (StrongAccount, Unblock,       [O, Y, Y, N, N]),
    (StrongAccount, Edit,          [O, Y, Y, N, N]),
    (StrongAccount, Delete,        [O, Y, Y, Y, Y]),
    (StrongAccount, IssueKey,      [N, N, N, Y, Y]),
    (StrongAccount, RevokeKey,     [N, N, N, Y, Y]),
    (WeakAccount,   ResetPassword, [O, O, Y, N, N]),
    (WeakAccount,   SetRoles,      [O, O, Y, O, Y]),
    (WeakAccount,   Block,         [O, O, Y, N, N]),
    (WeakAccount,   Unblock,       [O, O, Y, N, N]),
    (WeakAccount,   Edit,          [O, O, Y, N, N]),
    (WeakAccount,   Delete,        [O, O, Y, O, Y]),
    (WeakAccount,   IssueKey,      [N, N, N, O, Y]),
    (WeakAccount,   RevokeKey,     [N, N, N, O, Y]),
];

impl Kind {
    fn is_account(self) -> bool {
        matches!(self, StrongAccount | WeakAccount)
    }
}

impl Action {
    fn success(self) -> u16 {
        match self {
            ResetPassword | Delete | RevokeKey => 204,
            IssueKey => 201,
            SetRoles | Block | Unblock | Edit => 200,
        }
    }
}

/// One tenant holding a caller of every kind, and the roles the kinds are made of.
struct World {
    tenant: String,
    roles: HashMap<Kind, String>,
    tokens: HashMap<Kind, String>,
    created: std::sync::atomic::AtomicU32,
}

impl World {
    async fn new(app: &TestApp) -> Self {
        let tenant = app.create_tenant("ranks").await;
        let manage = Rights::none().with(Entity::Users, Right::Manage);
        let users = Right::ALL
            .iter()
            .fold(Rights::none(), |r, right| r.with(Entity::Users, *right));
        let roles = HashMap::from([
            (Admin, BuiltinRole::Administrator.id().to_string()),
            (
                TenantAdmin,
                BuiltinRole::TenantAdministrator.id().to_string(),
            ),
            (
                UsersManage,
                app.create_role(&tenant, "users-manage", manage).await,
            ),
            (
                StrongAccount,
                BuiltinRole::TenantAdministrator.id().to_string(),
            ),
            (
                WeakAccount,
                app.create_role(&tenant, "users-all", users).await,
            ),
        ]);
        let mut world = Self {
            tenant,
            roles,
            tokens: HashMap::new(),
            created: Default::default(),
        };
        for kind in KINDS {
            let id = world.account(app, kind).await;
            let token = if kind.is_account() {
                let (_, key) = app.issue_key(&id).await;
                app.exchange(&key).await
            } else {
                let login = app.admin("GET", &format!("/api/v1/users/{id}"), None).await;
                app.token_of("ranks", login["login"].as_str().unwrap())
                    .await
            };
            world.tokens.insert(kind, token);
        }
        world
    }

    /// A fresh account of `kind`; service accounts get one API key.
    async fn account(&self, app: &TestApp, kind: Kind) -> String {
        let n = self
            .created
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let roles = [self.roles[&kind].clone()];
        if kind.is_account() {
            let id = app
                .create_service_account(&self.tenant, &format!("{kind:?}-{n}"), &roles)
                .await;
            app.issue_key(&id).await;
            id
        } else {
            app.create_user(
                &self.tenant,
                &format!("{kind:?}-{n}").to_lowercase(),
                &roles,
            )
            .await
        }
    }

    fn path(kind: Kind, id: &str) -> String {
        let resource = if kind.is_account() {
            "service-accounts"
        } else {
            "users"
        };
        format!("/api/v1/{resource}/{id}")
    }

    /// The request for `action` on `target` (of `kind`), preparing what it needs first.
    async fn request(
        &self,
        app: &TestApp,
        action: Action,
        kind: Kind,
        target: &str,
        before: &Value,
    ) -> (&'static str, String, Option<Value>) {
        let base = Self::path(kind, target);
        match action {
            ResetPassword => (
                "POST",
                format!("{base}/password"),
                Some(json!({"new_password": "Reset#Passw0rd"})),
            ),
            SetRoles => (
                "PUT",
                format!("{base}/roles"),
                Some(json!({"roles": [self.roles[&kind]]})),
            ),
            Block => ("POST", format!("{base}/block"), None),
            Unblock => {
                app.admin("POST", &format!("{base}/block"), None).await;
                ("POST", format!("{base}/unblock"), None)
            }
            Edit => ("PATCH", base, Some(json!({"display_name": "Renamed"}))),
            Delete => ("DELETE", base, None),
            IssueKey => ("POST", format!("{base}/api-keys"), None),
            RevokeKey => {
                let key = before["keys"][0]["key_id"].as_str().unwrap();
                ("DELETE", format!("{base}/api-keys/{key}"), None)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_acted_on_only_by_callers_holding_every_right_it_holds() {
    let app = spawn_app().await;
    let world = World::new(&app).await;
    let mut wrong = Vec::new();
    let mut cells = 0;
    for (caller, action, wants) in MATRIX {
        for (kind, want) in KINDS.into_iter().zip(wants) {
            if *want == N {
                continue;
            }
            cells += 1;
            let target = world.account(&app, kind).await;
            let before = app.admin("GET", &World::path(kind, &target), None).await;
            let (method, path, body) = world.request(&app, *action, kind, &target, &before).await;
            let before = app.admin("GET", &World::path(kind, &target), None).await;
            let (status, problem) = app.call(method, &path, &world.tokens[caller], body).await;
            let code = problem["code"].as_str().unwrap_or_default();
            let right = match want {
                Y => status == action.success(),
                O => status == 403 && code == "account_outranks_caller",
                P => status == 403 && code == "forbidden",
                N => unreachable!("skipped above"),
            };
            let after = app
                .call("GET", &World::path(kind, &target), &app.admin_token, None)
                .await;
            let unchanged = *want == Y || after == (200, before.clone());
            if !right || !unchanged {
                wrong.push(format!(
                    "{caller:?} {action:?} {kind:?}: got {status} {code}, want {want:?}{}",
                    if unchanged {
                        ""
                    } else {
                        " (and the account changed)"
                    }
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
