//! Token rules end to end: expired, forged and revoked tokens answer 401; refresh tokens rotate;
//! a rotated signing key keeps old tokens valid; API keys exchange for tokens; failed logins are
//! throttled without revealing whether a login exists; logins stay unique under concurrent
//! creation.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use trainyard_auth::{Claims, SigningKey};

use crate::helpers::{spawn_app, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    app.call("GET", "/api/v1/auth/me", token, None).await
}

fn claims_of(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap()
}

/// The current signing key, read from identity's private table (what an attacker cannot do).
async fn signing_key(app: &TestApp) -> SigningKey {
    let (client, connection) = tokio_postgres::connect(&app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client.query_one("SELECT kid, private_key FROM identity_secrets.signing_keys ORDER BY created_at DESC LIMIT 1", &[]).await.unwrap();
    let secret: Vec<u8> = row.get(1);
    SigningKey::from_secret(row.get::<_, String>(0), secret.try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_forged_and_revoked_tokens_answer_401() {
    let app = spawn_app().await;
    assert_eq!(me(&app, &app.admin_token).await.0, 200);
    let claims = claims_of(&app.admin_token);
    let key = signing_key(&app).await;

    let expired = Claims {
        exp: claims.iat - 3600,
        iat: claims.iat - 7200,
        ..claims.clone()
    };
    let expired = trainyard_auth::jwt::sign(&expired, &key).unwrap();
    let wrong_key =
        trainyard_auth::jwt::sign(&claims, &SigningKey::from_secret(key.kid(), [9; 32])).unwrap();
    let parts: Vec<&str> = app.admin_token.split('.').collect();
    let elevated = B64.encode(
        serde_json::to_vec(&Claims {
            tenant: trainyard_core::TenantId::new(),
            ..claims.clone()
        })
        .unwrap(),
    );
    let tampered = format!("{}.{elevated}.{}", parts[0], parts[2]);
    let none = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    for (name, token, code) in [
        ("expired", expired.as_str(), "token_expired"),
        ("wrong key", &wrong_key, "token_invalid"),
        ("tampered payload", &tampered, "token_invalid"),
        ("alg none", &none, "token_invalid"),
        ("garbage", "not-a-token", "token_invalid"),
    ] {
        let (status, problem) = me(&app, token).await;
        assert_eq!(status, 401, "{name}");
        assert_eq!(problem["code"], code, "{name}: {problem}");
    }

    let (status, _) = app
        .call("POST", "/api/v1/auth/logout", &app.admin_token, None)
        .await;
    assert_eq!(status, 204);
    let (status, problem) = me(&app, &app.admin_token).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("token_revoked"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_a_verifier_in_another_process_through_the_log() {
    let app = spawn_app().await;
    // A second service's verifier: keys from the JWKS endpoint, revocations from the log.
    let verifier = trainyard_auth::Verifier::new(
        "trainyard-identity",
        Some(Box::new(trainyard_auth::JwksUrl::new(
            app.url("/api/v1/auth/jwks"),
        ))),
    );
    let client = async_nats::connect(app.nats.url()).await.unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let feed = trainyard_auth::revocation::RevocationFeed {
        stream: "EVENTS".into(),
        events_root: "evt".into(),
        lookback: Duration::from_secs(3600),
    };
    feed.spawn(client, verifier.revocations().clone(), shutdown.clone());
    let token = app.login(None, "admin", ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        verifier.verify(&token).await.is_ok(),
        "unknown kid is fetched from the JWKS"
    );
    assert_eq!(
        app.call("POST", "/api/v1/auth/logout", &token, None)
            .await
            .0,
        204
    );
    trainyard_testkit::wait_until(
        Duration::from_secs(10),
        "revocation to reach the other verifier",
        || async { verifier.verify(&token).await == Err(trainyard_auth::TokenError::Revoked) },
    )
    .await;
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = spawn_app().await;
    let first = app.login(None, "admin", ADMIN_PASSWORD).await;
    let refresh = |token: Value| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap()
        }
    };
    let second = refresh(first["refresh_token"].clone()).await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(
        me(&app, second["access_token"].as_str().unwrap()).await.0,
        200
    );
    // The first refresh token again: treated as stolen, the whole session ends.
    assert_eq!(refresh(first["refresh_token"].clone()).await.status(), 401);
    assert_eq!(refresh(second["refresh_token"].clone()).await.status(), 401);
    assert_eq!(
        me(&app, second["access_token"].as_str().unwrap()).await.0,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_signs_new_tokens_while_old_tokens_keep_working() {
    let app = spawn_app().await;
    let old_token = app.admin_token.clone();
    let old_kid = trainyard_auth::jwt::parse(&old_token).unwrap().kid;
    let rotated = app.admin("POST", "/api/v1/auth/keys/rotate", None).await;
    assert_ne!(rotated["kid"], json!(old_kid));
    let jwks = app
        .client
        .get(app.url("/api/v1/auth/jwks"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&rotated["kid"].as_str().unwrap()),
        "{kids:?}"
    );
    let new_token = app.login(None, "admin", ADMIN_PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        trainyard_auth::jwt::parse(&new_token).unwrap().kid,
        rotated["kid"].as_str().unwrap()
    );
    assert_eq!(me(&app, &old_token).await.0, 200);
    assert_eq!(me(&app, &new_token).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_exchange_for_tokens_until_revoked() {
    let app = spawn_app().await;
    let account = app
        .admin(
            "POST",
            "/api/v1/service-accounts",
            Some(json!({"name": "worker-1"})),
        )
        .await;
    let path = format!(
        "/api/v1/service-accounts/{}/api-keys",
        account["id"].as_str().unwrap()
    );
    let issued = app.admin("POST", &path, None).await;
    let key = issued["api_key"].as_str().unwrap();
    let exchange = |key: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/token"))
                .json(&json!({"api_key": key}))
                .send()
                .await
                .unwrap()
        }
    };
    let response = exchange(key.to_owned()).await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert!(token.get("refresh_token").is_none());
    let (_, who) = me(&app, token["access_token"].as_str().unwrap()).await;
    assert_eq!(who["kind"], "service_account");
    let shown = app
        .admin(
            "GET",
            &format!(
                "/api/v1/service-accounts/{}",
                account["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert!(
        !shown.to_string().contains(key),
        "the key is shown once only"
    );
    app.admin(
        "DELETE",
        &format!("{path}/{}", issued["key_id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(exchange(key.to_owned()).await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_the_same_for_unknown_logins() {
    let app = spawn_app().await;
    for login in ["admin", "nobody-here"] {
        for _ in 0..5 {
            let response = app.try_login(None, login, "Wrong#Passw0rd").await;
            assert_eq!(response.status(), 401, "{login}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["code"], "invalid_credentials");
        }
        let throttled = app.try_login(None, login, ADMIN_PASSWORD).await;
        assert_eq!(
            throttled.status(),
            429,
            "{login}: even the right password waits"
        );
        let retry: u64 = throttled.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=300).contains(&retry));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_unique_under_concurrent_creation() {
    let app = spawn_app().await;
    let attempts = (0..8).map(|_| {
        let body = json!({"login": "Dup", "password": USER_PASSWORD});
        app.call("POST", "/api/v1/users", &app.admin_token, Some(body))
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let taken = results
        .iter()
        .filter(|(s, p)| *s == 409 && p["code"] == "login_taken")
        .count();
    assert_eq!((created, taken), (1, 7), "{results:?}");
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/users",
            &app.admin_token,
            Some(json!({"login": "dup", "password": USER_PASSWORD})),
        )
        .await;
    assert_eq!(status, 409, "logins are case-insensitive");
}
