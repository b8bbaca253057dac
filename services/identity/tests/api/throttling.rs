//! Login throttling as an attacker meets it: failures slow down the guesser at its own address,
//! not the account's owner elsewhere nor the other users behind a noisy address, and
//! `X-Forwarded-For` counts only from a configured trusted proxy.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

const WRONG: &str = "Wrong#Passw0rd";

async fn login_from(app: &TestApp, address: &str, login: &str, password: &str) -> u16 {
    let body = json!({"login": login, "password": password});
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_elsewhere_do_not_lock_an_administrator_out() {
    let app =
        spawn_app_with(|c| c.service.throttle.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let home = "198.51.100.7";
    assert_eq!(login_from(&app, home, "admin", ADMIN_PASSWORD).await, 200);
    // Four addresses guess 5 times each: each then waits, even with the right password.
    for n in 1..=4 {
        let attacker = format!("203.0.113.{n}");
        for attempt in 1..=5 {
            let status = login_from(&app, &attacker, "admin", WRONG).await;
            assert_eq!(status, 401, "{attacker} attempt {attempt}");
        }
        let status = login_from(&app, &attacker, "admin", ADMIN_PASSWORD).await;
        assert_eq!(status, 429, "{attacker} must wait");
    }
    // 20 failures of the account: addresses it never logged in from now wait too.
    assert_eq!(login_from(&app, "203.0.113.99", "admin", WRONG).await, 429);
    assert_eq!(
        login_from(&app, home, "admin", ADMIN_PASSWORD).await,
        200,
        "the administrator's own address is not held up"
    );
    assert_eq!(
        login_from(&app, "192.0.2.1", "someone-else", WRONG).await,
        401,
        "other accounts are not held up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_address_does_not_lock_out_its_other_users() {
    let app = spawn_app().await;
    let me = app.admin("GET", "/api/v1/auth/me", None).await;
    let tenant = me["tenant_id"].as_str().unwrap();
    app.create_user(tenant, "regular", &[]).await;
    app.create_user(tenant, "newcomer", &[]).await;
    app.login(None, "regular", USER_PASSWORD).await;
    for n in 0..50 {
        let response = app.try_login(None, &format!("nobody{n}"), WRONG).await;
        assert_eq!(response.status(), 401, "spray attempt {n}");
    }
    app.login(None, "regular", USER_PASSWORD).await;
    app.login(None, "admin", ADMIN_PASSWORD).await;
    // A login never seen at this address waits, with a bounded Retry-After.
    let waiting = app.try_login(None, "newcomer", USER_PASSWORD).await;
    assert_eq!(waiting.status(), 429);
    let retry: u64 = waiting.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let problem: Value = waiting.json().await.unwrap();
    assert_eq!(problem["code"], "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = spawn_app().await;
    for n in 1..=5 {
        let status = login_from(&app, &format!("203.0.113.{n}"), "admin", WRONG).await;
        assert_eq!(status, 401);
    }
    assert_eq!(
        login_from(&app, "198.51.100.99", "admin", ADMIN_PASSWORD).await,
        429,
        "a spoofed header does not open a fresh counter"
    );
}
