//! Nobody removes the last administrator: not of a tenant (holders of `TenantAdministrator` or
//! `Administrator` there), not of the installation (holders of `Administrator`), not by acting on
//! their own account, and not by two administrators demoting each other at the same moment.

use serde_json::{json, Value};
use trainyard_identity::domain::BuiltinRole;

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

fn tenant_admin() -> String {
    BuiltinRole::TenantAdministrator.id().to_string()
}

fn administrator() -> String {
    BuiltinRole::Administrator.id().to_string()
}

/// Waits until the users read model lists `count` holders of `role` in `tenant`, as seen with
/// `token`.
async fn listed_as(app: &TestApp, token: &str, tenant: &str, role: &str, count: usize) {
    let path = format!("/api/v1/users?tenant_id={tenant}&role_id={role}&blocked=false");
    trainyard_testkit::wait_until(
        std::time::Duration::from_secs(20),
        "administrators in the read model",
        || async {
            let (status, list) = app.call("GET", &path, token, None).await;
            status == 200 && list["items"].as_array().is_some_and(|i| i.len() == count)
        },
    )
    .await;
}

async fn listed(app: &TestApp, tenant: &str, role: &str, count: usize) {
    listed_as(app, &app.admin_token, tenant, role, count).await;
}

async fn holders(app: &TestApp, tenant: &str, role: &str) -> usize {
    let mut live = 0;
    let path = format!("/api/v1/users?tenant_id={tenant}&role_id={role}");
    for user in app.admin("GET", &path, None).await["items"]
        .as_array()
        .unwrap()
    {
        let id = user["id"].as_str().unwrap();
        // The aggregate, not the list: the list may lag.
        let (status, user) = app
            .call(
                "GET",
                &format!("/api/v1/users/{id}"),
                &app.admin_token,
                None,
            )
            .await;
        let holds = user["roles"]
            .as_array()
            .is_some_and(|r| r.contains(&json!(role)));
        if status == 200 && holds && user["blocked"] == false {
            live += 1;
        }
    }
    live
}

fn code(problem: &Value) -> &str {
    problem["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_deletes_blocks_or_demotes_their_own_account() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("selfish").await;
    for role in [tenant_admin(), administrator()] {
        let login = format!("self-{}", &role[role.len() - 1..]);
        let id = app
            .create_user(&tenant, &login, std::slice::from_ref(&role))
            .await;
        let token = app.token_of("selfish", &login).await;
        let own = format!("/api/v1/users/{id}");
        for (method, path, body, expected) in [
            ("DELETE", own.clone(), None, "cannot_delete_self"),
            ("POST", format!("{own}/block"), None, "cannot_block_self"),
            (
                "PUT",
                format!("{own}/roles"),
                Some(json!({"roles": []})),
                "cannot_demote_self",
            ),
        ] {
            let (status, problem) = app.call(method, &path, &token, body).await;
            assert_eq!((status, code(&problem)), (422, expected), "{method} {path}");
        }
        let user = app.admin("GET", &own, None).await;
        assert_eq!(
            (user["roles"].clone(), user["blocked"].clone()),
            (json!([role]), json!(false))
        );
        // Changing one's own password with the current one stays possible.
        let change = json!({"current_password": USER_PASSWORD, "new_password": "Own#Passw0rd-2"});
        let (status, _) = app
            .call("POST", &format!("{own}/password"), &token, Some(change))
            .await;
        assert_eq!(status, 204);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_tenant_administrator_cannot_be_deleted_blocked_or_demoted() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("lonely").await;
    let only = app.create_user(&tenant, "only", &[tenant_admin()]).await;
    listed(&app, &tenant, &tenant_admin(), 1).await;
    let path = format!("/api/v1/users/{only}");
    for (method, path, body) in [
        ("DELETE", path.clone(), None),
        ("POST", format!("{path}/block"), None),
        ("PUT", format!("{path}/roles"), Some(json!({"roles": []}))),
    ] {
        let (status, problem) = app.call(method, &path, &app.admin_token, body).await;
        assert_eq!(
            (status, code(&problem)),
            (409, "last_tenant_administrator"),
            "{method} {path}: {problem}"
        );
    }
    let user = app.admin("GET", &path, None).await;
    assert_eq!(
        (user["roles"].clone(), user["blocked"].clone()),
        (json!([tenant_admin()]), json!(false))
    );
    // With a second administrator the first one may go.
    app.create_user(&tenant, "second", &[tenant_admin()]).await;
    listed(&app, &tenant, &tenant_admin(), 2).await;
    let (status, _) = app.call("DELETE", &path, &app.admin_token, None).await;
    assert_eq!(status, 204);
    assert_eq!(holders(&app, &tenant, &tenant_admin()).await, 1);
}

/// Two administrators each demote the other at once, several rounds: never both succeed, and
/// exactly one administrator is left each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tenant_administrators_demoting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    for round in 0..4 {
        let name = format!("duel{round}");
        let tenant = app.create_tenant(&name).await;
        let a = app.create_user(&tenant, "a", &[tenant_admin()]).await;
        let b = app.create_user(&tenant, "b", &[tenant_admin()]).await;
        let (token_a, token_b) = (
            app.token_of(&name, "a").await,
            app.token_of(&name, "b").await,
        );
        listed(&app, &tenant, &tenant_admin(), 2).await;
        let demote = |target: &str, token: &str| {
            let (path, token) = (format!("/api/v1/users/{target}/roles"), token.to_owned());
            let app = &app;
            async move {
                app.call("PUT", &path, &token, Some(json!({"roles": []})))
                    .await
            }
        };
        let (first, second) = tokio::join!(demote(&b, &token_a), demote(&a, &token_b));
        let succeeded = [&first, &second].iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(succeeded, 1, "round {round}: {first:?} {second:?}");
        for (status, problem) in [&first, &second] {
            // The loser is refused by the guard, or its token no longer holds the role.
            assert!(
                *status == 200
                    || (*status == 409 && code(problem) == "last_tenant_administrator")
                    || (*status == 401 && code(problem) == "token_superseded"),
                "round {round}: {status} {problem}"
            );
        }
        assert_eq!(
            holders(&app, &tenant, &tenant_admin()).await,
            1,
            "round {round}"
        );
    }
}

/// The same for the installation's Administrators, several rounds: each round the one left
/// appoints a new second Administrator, and the two demote each other to tenant administrators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_administrators_demoting_each_other_at_once_leave_one() {
    let app = spawn_app().await;
    let me = app.admin("GET", "/api/v1/auth/me", None).await;
    let default = me["tenant_id"].as_str().unwrap().to_owned();
    // A tenant administrator keeps the tenant administered: only the installation's rule is at
    // stake when the Administrators keep `TenantAdministrator`.
    app.create_user(&default, "keeper", &[tenant_admin()]).await;
    let mut left = (
        me["actor_id"].as_str().unwrap().to_owned(),
        "admin".to_owned(),
        ADMIN_PASSWORD,
    );
    for round in 0..4 {
        let token = |login: String, password: &'static str| {
            let app = &app;
            async move {
                app.login(None, &login, password).await["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let left_token = token(left.1.clone(), left.2).await;
        let login = format!("second{round}");
        let body = json!({"login": login, "password": USER_PASSWORD, "roles": [administrator()], "must_change_password": false});
        let (status, second) = app
            .call("POST", "/api/v1/users", &left_token, Some(body))
            .await;
        assert_eq!(status, 201, "{second}");
        let second = (
            second["id"].as_str().unwrap().to_owned(),
            login,
            USER_PASSWORD,
        );
        let second_token = token(second.1.clone(), USER_PASSWORD).await;
        let keeper = app.token_of_default("keeper").await;
        listed_as(&app, &keeper, &default, &administrator(), 2).await;
        let body = json!({"roles": [tenant_admin()]});
        let (demote_second, demote_left) = (
            format!("/api/v1/users/{}/roles", second.0),
            format!("/api/v1/users/{}/roles", left.0),
        );
        let (first, other) = tokio::join!(
            app.call("PUT", &demote_second, &left_token, Some(body.clone())),
            app.call("PUT", &demote_left, &second_token, Some(body.clone())),
        );
        let succeeded = [&first, &other].iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(succeeded, 1, "round {round}: {first:?} {other:?}");
        for (status, problem) in [&first, &other] {
            assert!(
                *status == 200
                    || (*status == 409 && code(problem) == "last_installation_administrator")
                    || (*status == 401 && code(problem) == "token_superseded"),
                "round {round}: {status} {problem}"
            );
        }
        // Who is left, read as the keeper (a tenant administrator, untouched by the duel).
        let mut admins = Vec::new();
        for candidate in [&left, &second] {
            let (_, user) = app
                .call(
                    "GET",
                    &format!("/api/v1/users/{}", candidate.0),
                    &keeper,
                    None,
                )
                .await;
            if user["roles"]
                .as_array()
                .unwrap()
                .contains(&json!(administrator()))
            {
                admins.push(candidate.clone());
            }
        }
        assert_eq!(admins.len(), 1, "round {round}");
        left = admins.remove(0);
    }
}
