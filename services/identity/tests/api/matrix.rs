//! Every identity endpoint × every standard caller. Adding an endpoint is one `row!` line.

use std::collections::HashMap;

use serde_json::json;
use tokio::sync::Mutex;
use trainyard_auth::row;
use trainyard_auth::testing::{check_matrix, standard_callers, Caller, MatrixTarget, Row};

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

const ROWS: &[Row] = &[
    row!(GET "/api/v1/auth/jwks", public),
    row!(GET "/api/v1/openapi.json", public),
    row!(POST "/api/v1/auth/login", public, r#"{"tenant":"{tenant_name}","login":"{login}","password":"{password}"}"#),
    row!(POST "/api/v1/auth/refresh", public, r#"{"refresh_token":"{refresh}"}"#),
    row!(POST "/api/v1/auth/token", public, r#"{"api_key":"{api_key}"}"#),
    row!(GET "/api/v1/auth/me", authenticated),
    row!(POST "/api/v1/auth/keys/rotate", administrator),
    row!(GET "/api/v1/tenants", administrator),
    row!(POST "/api/v1/tenants", administrator, r#"{"name":"t{unique}"}"#),
    row!(GET "/api/v1/tenants/{tenant}", administrator),
    row!(GET "/api/v1/users", Users:View),
    row!(POST "/api/v1/users", Users:Create, r#"{"login":"u{unique}","password":"New#Passw0rd","tenant_id":"{tenant}"}"#),
    row!(GET "/api/v1/users/{user}", Users:View),
    row!(PATCH "/api/v1/users/{user}", Users:Edit, r#"{"display_name":"Renamed"}"#),
    row!(DELETE "/api/v1/users/{victim}", Users:Delete),
    row!(POST "/api/v1/users/{victim}/block", Users:Manage),
    row!(POST "/api/v1/users/{victim}/unblock", Users:Manage),
    row!(PUT "/api/v1/users/{victim}/roles", Users:Manage, r#"{"roles":[]}"#),
    row!(POST "/api/v1/users/{victim}/password", Users:Manage, r#"{"new_password":"Reset#Passw0rd"}"#),
    row!(GET "/api/v1/roles", Roles:View),
    row!(POST "/api/v1/roles", Roles:Create, r#"{"name":"r{unique}","permissions":[{"entity":"training_templates","right":"view"}],"tenant_id":"{tenant}"}"#),
    row!(GET "/api/v1/roles/{role}", Roles:View),
    row!(PUT "/api/v1/roles/{role}", Roles:Edit, r#"{"name":"r{unique}","permissions":[]}"#),
    row!(DELETE "/api/v1/roles/{victim_role}", Roles:Delete),
    row!(GET "/api/v1/service-accounts", Users:View),
    row!(POST "/api/v1/service-accounts", Users:Create, r#"{"name":"sa{unique}","tenant_id":"{tenant}"}"#),
    row!(GET "/api/v1/service-accounts/{account}", Users:View),
    row!(DELETE "/api/v1/service-accounts/{victim_account}", Users:Delete),
    row!(PUT "/api/v1/service-accounts/{account}/roles", Users:Manage, r#"{"roles":[]}"#),
    row!(POST "/api/v1/service-accounts/{account}/api-keys", Users:Manage),
    row!(DELETE "/api/v1/service-accounts/{account}/api-keys/{key}", Users:Manage),
    row!(GET "/api/v1/audit/events", Users:Manage),
    row!(GET "/api/v1/audit/verify", administrator),
    // Last: it ends the caller's session.
    row!(POST "/api/v1/auth/logout", authenticated),
];

struct Identity {
    app: TestApp,
    tenant: String,
    tenant_name: String,
    fixtures: HashMap<String, String>,
    counter: Mutex<u64>,
}

impl Identity {
    async fn fresh(&self, kind: &str) -> String {
        let n = self.fresh_number().await;
        let app = &self.app;
        match kind {
            "victim" => {
                app.create_user(&self.tenant, &format!("victim{n}"), &[])
                    .await
            }
            "victim_role" => {
                app.create_role(
                    &self.tenant,
                    &format!("victimrole{n}"),
                    trainyard_auth::Rights::none(),
                )
                .await
            }
            "victim_account" => app
                .admin(
                    "POST",
                    "/api/v1/service-accounts",
                    Some(json!({"name": format!("victimsa{n}"), "tenant_id": self.tenant})),
                )
                .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            "key" | "api_key" => {
                let path = format!(
                    "/api/v1/service-accounts/{}/api-keys",
                    self.fixtures["account"]
                );
                let issued = app.admin("POST", &path, None).await;
                let field = if kind == "key" { "key_id" } else { "api_key" };
                issued[field].as_str().unwrap().to_owned()
            }
            "refresh" => app
                .login(Some(&self.tenant_name), "fixture", USER_PASSWORD)
                .await["refresh_token"]
                .as_str()
                .unwrap()
                .to_owned(),
            other => panic!("no fixture named {other}"),
        }
    }
}

impl MatrixTarget for Identity {
    fn base_url(&self) -> String {
        self.app.base.clone()
    }

    async fn token(&self, caller: &Caller) -> Option<String> {
        let app = &self.app;
        let login = match caller {
            Caller::Anonymous => return None,
            // A session of its own: the logout row must not end the one fixtures are made with.
            Caller::Administrator => {
                let tokens = app.login(None, "admin", ADMIN_PASSWORD).await;
                return Some(tokens["access_token"].as_str().unwrap().to_owned());
            }
            Caller::TenantAdministrator => {
                let n = self.fresh_number().await;
                let login = format!("tadmin{n}");
                app.create_user(
                    &self.tenant,
                    &login,
                    &[trainyard_identity::domain::BuiltinRole::TenantAdministrator
                        .id()
                        .to_string()],
                )
                .await;
                login
            }
            Caller::Role { rights, .. } => {
                let n = self.fresh_number().await;
                let role = app
                    .create_role(&self.tenant, &format!("matrix{n}"), *rights)
                    .await;
                let login = format!("caller{n}");
                app.create_user(&self.tenant, &login, &[role]).await;
                login
            }
        };
        let tokens = app
            .login(Some(&self.tenant_name), &login, USER_PASSWORD)
            .await;
        Some(tokens["access_token"].as_str().unwrap().to_owned())
    }

    async fn vars(&self, row: &Row, _caller: &Caller) -> HashMap<String, String> {
        let mut vars = self.fixtures.clone();
        let text = format!("{}{}", row.path, row.body.unwrap_or(""));
        for fresh in [
            "victim_role",
            "victim_account",
            "victim",
            "api_key",
            "key",
            "refresh",
        ] {
            let mentioned = text.contains(&format!("{{{fresh}}}"));
            if mentioned {
                vars.insert(fresh.to_owned(), self.fresh(fresh).await);
            }
        }
        vars
    }
}

impl Identity {
    async fn fresh_number(&self) -> u64 {
        let mut counter = self.counter.lock().await;
        *counter += 1;
        *counter
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_callers_succeed_on_every_endpoint() {
    let app = spawn_app().await;
    let tenant_name = "matrix".to_owned();
    let tenant = app.create_tenant(&tenant_name).await;
    let user = app.create_user(&tenant, "fixture", &[]).await;
    let role = app
        .create_role(&tenant, "fixturerole", trainyard_auth::Rights::none())
        .await;
    let account = app
        .admin(
            "POST",
            "/api/v1/service-accounts",
            Some(json!({"name": "fixturesa", "tenant_id": tenant})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fixtures = HashMap::from([
        ("tenant".to_owned(), tenant.clone()),
        ("tenant_name".to_owned(), tenant_name.clone()),
        ("user".to_owned(), user),
        ("role".to_owned(), role),
        ("account".to_owned(), account),
        ("login".to_owned(), "fixture".to_owned()),
        ("password".to_owned(), USER_PASSWORD.to_owned()),
    ]);
    let target = Identity {
        app,
        tenant,
        tenant_name,
        fixtures,
        counter: Mutex::new(0),
    };
    check_matrix(&target, ROWS, &standard_callers(ROWS)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_ids_answer_404() {
    let app = spawn_app().await;
    let (a, b) = (
        app.create_tenant("alpha").await,
        app.create_tenant("beta").await,
    );
    app.create_user(
        &a,
        "admin-a",
        &[trainyard_identity::domain::BuiltinRole::TenantAdministrator
            .id()
            .to_string()],
    )
    .await;
    let token = app.login(Some("alpha"), "admin-a", USER_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_b = app.create_user(&b, "bob", &[]).await;
    let role_b = app
        .create_role(&b, "rb", trainyard_auth::Rights::none())
        .await;
    let account_b = app
        .admin(
            "POST",
            "/api/v1/service-accounts",
            Some(json!({"name": "sab", "tenant_id": b})),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let calls = [
        ("GET", format!("/api/v1/users/{user_b}"), None),
        (
            "PATCH",
            format!("/api/v1/users/{user_b}"),
            Some(json!({"display_name": "x"})),
        ),
        ("DELETE", format!("/api/v1/users/{user_b}"), None),
        ("POST", format!("/api/v1/users/{user_b}/block"), None),
        (
            "PUT",
            format!("/api/v1/users/{user_b}/roles"),
            Some(json!({"roles": []})),
        ),
        (
            "POST",
            format!("/api/v1/users/{user_b}/password"),
            Some(json!({"new_password": "Reset#Passw0rd"})),
        ),
        ("GET", format!("/api/v1/roles/{role_b}"), None),
        (
            "PUT",
            format!("/api/v1/roles/{role_b}"),
            Some(json!({"name": "x", "permissions": []})),
        ),
        ("DELETE", format!("/api/v1/roles/{role_b}"), None),
        ("GET", format!("/api/v1/service-accounts/{account_b}"), None),
        (
            "POST",
            format!("/api/v1/service-accounts/{account_b}/api-keys"),
            None,
        ),
        (
            "POST",
            "/api/v1/users".to_owned(),
            Some(json!({"login": "intruder", "password": "New#Passw0rd", "tenant_id": b})),
        ),
    ];
    for (method, path, body) in calls {
        let (status, problem) = app.call(method, &path, &token, body).await;
        assert_eq!(status, 404, "{method} {path}: {problem}");
        assert_eq!(problem["code"], "not_found", "{method} {path}");
    }
    // Lists never show the other tenant's rows, whatever the filter says.
    app.wait_for("/api/v1/users?login=bob", "bob in the read model", |v| {
        v["items"].as_array().is_some_and(|i| i.len() == 1)
    })
    .await;
    let (_, list) = app
        .call("GET", &format!("/api/v1/users?tenant_id={b}"), &token, None)
        .await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["tenant_id"] == json!(a)),
        "{list}"
    );
}
