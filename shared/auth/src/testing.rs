//! Test helpers for every service (feature `testing`): a token issuer with its own key, and the
//! endpoint × caller matrix.
//!
//! A service lists its endpoints once, one line each:
//! ```ignore
//! const ROWS: &[Row] = &[
//!     row!(GET "/api/v1/training-templates", TrainingTemplates:View),
//!     row!(POST "/api/v1/training-templates", TrainingTemplates:Create, r#"{"name":"t-{unique}"}"#),
//!     row!(GET "/api/v1/auth/me", authenticated),
//!     row!(GET "/api/v1/tenants", administrator),
//!     row!(GET "/api/v1/auth/jwks", public),
//! ];
//! ```
//! and [`check_matrix`] calls every row as every caller of [`standard_callers`]: the built-in
//! administrators, the guide's minimal role, for each permission a role holding every right but
//! that one, and no token. Allowed calls must succeed (2xx); the rest must answer 401 (no token)
//! or 403. `{name}` placeholders in paths and bodies come from the target's [`MatrixTarget::vars`]
//! (e.g. a fresh user to delete), `{unique}` is always a fresh value.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;

use chrono::Utc;
use http::Method;
use trainyard_core::access::{Entity, Right, Rights};
use trainyard_core::{ActorId, ActorKind, TenantId};
use uuid::Uuid;

use crate::claims::Claims;
use crate::keys::{Jwks, SigningKey};
use crate::verifier::Verifier;

/// What a row needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, even without a token.
    Public,
    /// Any valid token.
    Authenticated,
    /// The `Administrator` role.
    Administrator,
    Permission(Entity, Right),
    /// Any one of these permissions (reads that several roles need, e.g. a project's name).
    AnyOf(&'static [(Entity, Right)]),
}

/// One endpoint of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub method: &'static str,
    pub path: &'static str,
    pub need: Need,
    /// JSON body template, `{placeholders}` allowed.
    pub body: Option<&'static str>,
}

/// One matrix row: `row!(METHOD "/path", Entity:Right [, "body"])`, or `administrator`,
/// `authenticated`, `public` in place of the permission.
#[macro_export]
macro_rules! row {
    ($method:ident $path:literal, public $(, $body:literal)?) => {
        $crate::row!(@make $method $path, $crate::testing::Need::Public $(, $body)?)
    };
    ($method:ident $path:literal, authenticated $(, $body:literal)?) => {
        $crate::row!(@make $method $path, $crate::testing::Need::Authenticated $(, $body)?)
    };
    ($method:ident $path:literal, administrator $(, $body:literal)?) => {
        $crate::row!(@make $method $path, $crate::testing::Need::Administrator $(, $body)?)
    };
    ($method:ident $path:literal, any($($entity:ident : $right:ident),+) $(, $body:literal)?) => {
        $crate::row!(@make $method $path, $crate::testing::Need::AnyOf(
            &[$(($crate::Entity::$entity, $crate::Right::$right)),+]) $(, $body)?)
    };
    ($method:ident $path:literal, $entity:ident : $right:ident $(, $body:literal)?) => {
        $crate::row!(@make $method $path, $crate::testing::Need::Permission(
            $crate::Entity::$entity, $crate::Right::$right) $(, $body)?)
    };
    (@make $method:ident $path:literal, $need:expr) => {
        $crate::testing::Row { method: stringify!($method), path: $path, need: $need, body: None }
    };
    (@make $method:ident $path:literal, $need:expr, $body:literal) => {
        $crate::testing::Row { method: stringify!($method), path: $path, need: $need, body: Some($body) }
    };
}

/// Who calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Administrator,
    TenantAdministrator,
    /// A user whose roles add up to `rights`.
    Role {
        name: String,
        rights: Rights,
    },
}

impl Caller {
    /// Whether this caller may call a row with `need`.
    pub fn may(&self, need: Need) -> bool {
        match (self, need) {
            (_, Need::Public) => true,
            (Caller::Anonymous, _) => false,
            (_, Need::Authenticated) => true,
            (Caller::Administrator, _) => true,
            (_, Need::Administrator) => false,
            (Caller::TenantAdministrator, Need::Permission(..) | Need::AnyOf(..)) => true,
            (Caller::Role { rights, .. }, Need::Permission(e, r)) => rights.allows(e, r),
            (Caller::Role { rights, .. }, Need::AnyOf(any)) => {
                any.iter().any(|(e, r)| rights.allows(*e, *r))
            }
        }
    }

    pub fn label(&self) -> String {
        match self {
            Caller::Anonymous => "no token".into(),
            Caller::Administrator => "Administrator".into(),
            Caller::TenantAdministrator => "TenantAdministrator".into(),
            Caller::Role { name, .. } => name.clone(),
        }
    }
}

/// The minimal role of the user guide: training templates create+view, training processes
/// create+view+manage.
pub fn guide_minimal_rights() -> Rights {
    Rights::none()
        .with(Entity::TrainingTemplates, Right::Create)
        .with(Entity::TrainingTemplates, Right::View)
        .with(Entity::TrainingProcesses, Right::Create)
        .with(Entity::TrainingProcesses, Right::View)
        .with(Entity::TrainingProcesses, Right::Manage)
}

/// Administrator, TenantAdministrator, the guide's minimal role, "everything but X" for each
/// permission the rows need (and "everything but all of X, Y" for each any-of need), and no token.
pub fn standard_callers(rows: &[Row]) -> Vec<Caller> {
    let mut callers = vec![
        Caller::Administrator,
        Caller::TenantAdministrator,
        Caller::Role {
            name: "guide-minimal".into(),
            rights: guide_minimal_rights(),
        },
    ];
    let needed: BTreeSet<(Entity, Right)> = rows
        .iter()
        .filter_map(|row| match row.need {
            Need::Permission(e, r) => Some((e, r)),
            _ => None,
        })
        .collect();
    for (entity, right) in needed {
        callers.push(all_but(&[(entity, right)]));
    }
    let mut any_of: Vec<&'static [(Entity, Right)]> = rows
        .iter()
        .filter_map(|row| match row.need {
            Need::AnyOf(any) => Some(any),
            _ => None,
        })
        .collect();
    any_of.sort();
    any_of.dedup();
    callers.extend(any_of.into_iter().map(all_but));
    callers.push(Caller::Anonymous);
    callers
}

/// A role holding every right except `missing`.
fn all_but(missing: &[(Entity, Right)]) -> Caller {
    let mut rights = Rights::none();
    for p in Rights::all().permissions() {
        if !missing.contains(&(p.entity, p.right)) {
            rights.grant(p.entity, p.right);
        }
    }
    let names: Vec<String> = missing.iter().map(|(e, r)| format!("{e}:{r}")).collect();
    Caller::Role {
        name: format!("all-but-{}", names.join("+")),
        rights,
    }
}

/// The service under test, as the matrix sees it.
pub trait MatrixTarget: Sync {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    fn base_url(&self) -> String;

    /// A bearer token for `caller` (`None` for [`Caller::Anonymous`]).
    fn token(&self, caller: &Caller) -> impl Future<Output = Option<String>> + Send;

    /// Placeholder values for one call of `row` by `caller`; may create fresh resources (a user
    /// to delete). Must cover every `{name}` in the row's path and body except `{unique}`.
    fn vars(
        &self,
        row: &Row,
        caller: &Caller,
    ) -> impl Future<Output = HashMap<String, String>> + Send;
}

/// Fills `{name}` placeholders; `{unique}` gets a fresh value each time.
pub fn fill(template: &str, vars: &HashMap<String, String>) -> String {
    let mut out = template.replace("{unique}", &Uuid::now_v7().simple().to_string());
    for (name, value) in vars {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// Calls every row as every caller; panics listing every call whose outcome was wrong.
pub async fn check_matrix<T: MatrixTarget>(target: &T, rows: &[Row], callers: &[Caller]) {
    let client = reqwest::Client::new();
    let mut failures = Vec::new();
    let mut calls = 0;
    for caller in callers {
        let token = target.token(caller).await;
        for row in rows {
            calls += 1;
            let vars = target.vars(row, caller).await;
            let status = call(&client, target, row, token.as_deref(), &vars).await;
            let allowed = caller.may(row.need);
            let expected_denial = if token.is_none() { 401 } else { 403 };
            let ok = if allowed {
                (200..300).contains(&status)
            } else {
                status == expected_denial
            };
            if !ok {
                let expected = if allowed {
                    "2xx".to_owned()
                } else {
                    expected_denial.to_string()
                };
                failures.push(format!(
                    "{} {} as {}: got {status}, expected {expected}",
                    row.method,
                    row.path,
                    caller.label()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {calls} matrix calls were wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn call<T: MatrixTarget>(
    client: &reqwest::Client,
    target: &T,
    row: &Row,
    token: Option<&str>,
    vars: &HashMap<String, String>,
) -> u16 {
    let method = Method::from_bytes(row.method.as_bytes()).expect("row method");
    let url = format!("{}{}", target.base_url(), fill(row.path, vars));
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = row.body {
        request = request
            .header("content-type", "application/json")
            .body(fill(body, vars));
    }
    match request.send().await {
        Ok(response) => response.status().as_u16(),
        Err(error) => panic!("{} {} failed: {error}", row.method, row.path),
    }
}

/// Signs tokens with its own key, for services whose tests do not run identity.
#[derive(Debug, Clone)]
pub struct TestIssuer {
    pub issuer: String,
    key: SigningKey,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new("trainyard-test")
    }
}

impl TestIssuer {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            key: SigningKey::generate(),
        }
    }

    /// A verifier that trusts this issuer.
    pub fn verifier(&self) -> Verifier {
        let verifier = Verifier::new(self.issuer.clone(), None);
        verifier.set_keys(&Jwks {
            keys: vec![self.key.jwk()],
        });
        verifier
    }

    /// A service's authentication that trusts this issuer (and follows revocations as usual).
    pub fn authentication(&self) -> crate::Authentication {
        crate::Authentication::new(self.verifier(), std::time::Duration::from_secs(3600))
    }

    /// Claims of a fresh user of `tenant` holding `rights`, valid for an hour.
    pub fn claims(&self, tenant: TenantId, rights: Rights, admin: bool) -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            iss: self.issuer.clone(),
            sub: ActorId::new(),
            kind: ActorKind::User,
            tenant,
            name: "test-user".into(),
            admin,
            rights,
            sid: Uuid::now_v7(),
            jti: Uuid::now_v7(),
            iat: now,
            exp: now + 3600,
            pwd_change: false,
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        crate::jwt::sign(claims, &self.key).expect("claims serialise")
    }

    /// A token for `caller` in `tenant` (`None` for anonymous).
    pub fn token_for(&self, caller: &Caller, tenant: TenantId) -> Option<String> {
        let claims = match caller {
            Caller::Anonymous => return None,
            Caller::Administrator => self.claims(tenant, Rights::all(), true),
            Caller::TenantAdministrator => self.claims(tenant, Rights::all(), false),
            Caller::Role { rights, .. } => self.claims(tenant, *rights, false),
        };
        Some(self.sign(&claims))
    }
}
