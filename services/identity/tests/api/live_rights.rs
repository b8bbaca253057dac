//! A change of an account's roles, or of a role's rights, reaches tokens already handed out: at
//! once in identity, moments later in every other service's verifier (through the log), while a
//! refresh (or a new key exchange) hands out a token with the new rights.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use trainyard_auth::revocation::RevocationFeed;
use trainyard_auth::{Entity, JwksUrl, Right, Rights, Verifier};

use crate::helpers::{spawn_app, TestApp, USER_PASSWORD};

/// A verifier as another service runs it: keys from the JWKS endpoint, notices from the log.
async fn other_service(app: &TestApp) -> (Verifier, CancellationToken) {
    let verifier = Verifier::new(
        "trainyard-identity",
        Some(Box::new(JwksUrl::new(app.url("/api/v1/auth/jwks")))),
    );
    let client = async_nats::connect(app.nats.url()).await.unwrap();
    let shutdown = CancellationToken::new();
    let feed = RevocationFeed {
        stream: "EVENTS".into(),
        events_root: "evt".into(),
        lookback: Duration::from_secs(3600),
    };
    feed.spawn(client, verifier.revocations().clone(), shutdown.clone());
    (verifier, shutdown)
}

async fn create_role(app: &TestApp, token: &str) -> (u16, Value) {
    let body = json!({"name": format!("r{}", uuid_suffix()), "permissions": []});
    app.call("POST", "/api/v1/roles", token, Some(body)).await
}

fn uuid_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

async fn refresh(app: &TestApp, refresh_token: &Value) -> Value {
    let response = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "refresh");
    response.json().await.unwrap()
}

/// Waits until the other service refuses `token` as superseded.
async fn refused_elsewhere(verifier: &Verifier, token: &str) {
    trainyard_testkit::wait_until(
        Duration::from_secs(10),
        "the other service to refuse the old token",
        || async { verifier.verify(token).await.map_err(|e| e.code()) == Err("token_superseded") },
    )
    .await;
}

fn role_creator() -> Rights {
    Rights::none().with(Entity::Roles, Right::Create)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_roles_reach_a_users_live_tokens_in_every_service() {
    let app = spawn_app().await;
    let (verifier, stop) = other_service(&app).await;
    let tenant = app.create_tenant("live").await;
    let role = app.create_role(&tenant, "creator", role_creator()).await;
    let user = app.create_user(&tenant, "eve", &[role]).await;
    let tokens = app.login(Some("live"), "eve", USER_PASSWORD).await;
    let old = tokens["access_token"].as_str().unwrap();
    assert_eq!(create_role(&app, old).await.0, 201);
    assert!(verifier.verify(old).await.is_ok());

    app.admin(
        "PUT",
        &format!("/api/v1/users/{user}/roles"),
        Some(json!({"roles": []})),
    )
    .await;
    let (status, problem) = create_role(&app, old).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (401, json!("token_superseded"))
    );
    refused_elsewhere(&verifier, old).await;

    let fresh = refresh(&app, &tokens["refresh_token"]).await;
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        create_role(&app, fresh).await.0,
        403,
        "the new token has the new rights"
    );
    assert!(verifier.verify(fresh).await.is_ok());
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_role_reaches_its_holders_live_tokens_in_every_service() {
    let app = spawn_app().await;
    let (verifier, stop) = other_service(&app).await;
    let tenant = app.create_tenant("edited").await;
    let role = app.create_role(&tenant, "creator", role_creator()).await;
    app.create_user(&tenant, "fay", std::slice::from_ref(&role))
        .await;
    let tokens = app.login(Some("edited"), "fay", USER_PASSWORD).await;
    let old = tokens["access_token"].as_str().unwrap();
    assert_eq!(create_role(&app, old).await.0, 201);

    let stripped = json!({"name": "creator", "permissions": []});
    app.admin("PUT", &format!("/api/v1/roles/{role}"), Some(stripped))
        .await;
    let (status, problem) = create_role(&app, old).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (401, json!("token_superseded"))
    );
    refused_elsewhere(&verifier, old).await;

    let fresh = refresh(&app, &tokens["refresh_token"]).await;
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(create_role(&app, fresh).await.0, 403);
    // Given back, the right works again with the next token.
    let restored = json!({"name": "creator", "permissions": role_creator().permissions()});
    app.admin("PUT", &format!("/api/v1/roles/{role}"), Some(restored))
        .await;
    assert_eq!(create_role(&app, fresh).await.0, 401);
    let login = app.login(Some("edited"), "fay", USER_PASSWORD).await;
    assert_eq!(
        create_role(&app, login["access_token"].as_str().unwrap())
            .await
            .0,
        201
    );
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_roles_reach_a_service_accounts_live_tokens() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("robots").await;
    let role = app.create_role(&tenant, "creator", role_creator()).await;
    let account = app.create_service_account(&tenant, "robot", &[role]).await;
    let (_, key) = app.issue_key(&account).await;
    let old = app.exchange(&key).await;
    assert_eq!(create_role(&app, &old).await.0, 201);

    let path = format!("/api/v1/service-accounts/{account}/roles");
    let (status, _) = app
        .call("PUT", &path, &app.admin_token, Some(json!({"roles": []})))
        .await;
    assert_eq!(status, 200);
    let (status, problem) = create_role(&app, &old).await;
    assert_eq!(
        (status, problem["code"].clone()),
        (401, json!("token_superseded"))
    );
    let fresh = app.exchange(&key).await;
    assert_eq!(create_role(&app, &fresh).await.0, 403);
}
