//! Secrets: passwords, API keys and refresh tokens never reach the logs (captured from the test
//! binary's tracing output) or any response except the one-time display of a new key or a
//! generated bootstrap password.

use serde_json::json;

use crate::helpers::{logs, spawn_app, spawn_app_with, ADMIN_PASSWORD, USER_PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_keys_and_refresh_tokens_never_reach_logs_or_responses() {
    let app = spawn_app().await;
    let secret_password = "Unique#Secret-Pw-4711";
    let body =
        json!({"login": "carol", "password": secret_password, "must_change_password": false});
    let created = app.admin("POST", "/api/v1/users", Some(body)).await;
    assert!(!created.to_string().contains(secret_password));
    let tokens = app.login(None, "carol", secret_password).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let _ = app.try_login(None, "carol", "Wrong#Guess-0815").await;
    let account = app
        .admin(
            "POST",
            "/api/v1/service-accounts",
            Some(json!({"name": "robot"})),
        )
        .await;
    let issued = app
        .admin(
            "POST",
            &format!(
                "/api/v1/service-accounts/{}/api-keys",
                account["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    let key = issued["api_key"].as_str().unwrap().to_owned();
    let exchanged = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"api_key": key}))
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), 200);
    let new_password = "Changed#Secret-Pw-99";
    let carol = created["id"].as_str().unwrap();
    let change = json!({"current_password": secret_password, "new_password": new_password});
    let (status, _) = app
        .call(
            "POST",
            &format!("/api/v1/users/{carol}/password"),
            tokens["access_token"].as_str().unwrap(),
            Some(change),
        )
        .await;
    assert_eq!(status, 204);
    // Wait for the audit journal to hold carol's events, then search every response and log.
    app.wait_for(
        &format!("/api/v1/audit/events?aggregate_id={carol}"),
        "carol's events in the journal",
        |v| v["items"].as_array().is_some_and(|i| i.len() >= 2),
    )
    .await;
    let journal = app
        .admin("GET", "/api/v1/audit/events?limit=500", None)
        .await
        .to_string();
    let users = app.admin("GET", "/api/v1/users", None).await.to_string();
    let logged = logs().contents();
    assert!(logged.contains("user logged in"), "the log capture works");
    for secret in [
        secret_password,
        "Wrong#Guess-0815",
        new_password,
        &refresh,
        &key,
        ADMIN_PASSWORD,
        USER_PASSWORD,
    ] {
        assert!(!logged.contains(secret), "a secret reached the logs");
        assert!(
            !journal.contains(secret) && !users.contains(secret),
            "a secret reached a response"
        );
    }
    assert!(
        !journal.contains("$argon2"),
        "password hashes stay out of the event log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_bootstrap_password_is_printed_once_and_must_be_changed() {
    let app = spawn_app_with(|c| c.service.bootstrap.admin_password = None).await;
    let printed = String::from_utf8(app.bootstrap_output.lock().unwrap().clone()).unwrap();
    let password = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("password printed")
        .to_owned();
    assert!(
        !logs().contents().contains(&password),
        "printed, never logged"
    );
    let tokens = app.login(None, "admin", &password).await;
    assert_eq!(tokens["must_change_password"], true);
    let token = tokens["access_token"].as_str().unwrap();
    let (status, _) = app.call("GET", "/api/v1/users", token, None).await;
    assert_eq!(status, 403, "no rights until the password is changed");
}
