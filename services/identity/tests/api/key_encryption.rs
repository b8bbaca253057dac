//! Signing keys at rest: sealed with the configured key-encryption key (KEK), keys stored in the
//! clear sealed at the first start with a KEK, a start without the KEK refused rather than run
//! with keys it cannot read, and the KEK rotated by naming the old one retired.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use trainyard_auth::SigningKey;
use trainyard_identity::config::{IdentityConfig, Secret};
use trainyard_identity::App;

use crate::helpers::{spawn_app, test_config, TestApp, ADMIN_PASSWORD};

/// A stored signing key: kid, stored private key, public key, KEK id.
type Row = (String, Vec<u8>, Vec<u8>, Option<String>);

async fn rows(app: &TestApp) -> Vec<Row> {
    let (client, connection) = tokio_postgres::connect(&app.db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .query("SELECT kid, private_key, public_key, kek_id FROM identity_secrets.signing_keys ORDER BY kid", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Whether the stored bytes are the private key itself.
fn in_the_clear((kid, private, public, _): &Row) -> bool {
    <[u8; 32]>::try_from(private.as_slice()).is_ok_and(|secret| {
        SigningKey::from_secret(kid.clone(), secret)
            .verifying_key()
            .as_bytes()
            .as_slice()
            == public.as_slice()
    })
}

fn kek_text(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn kek_file(name: &str, byte: u8) -> PathBuf {
    let path = std::env::temp_dir().join(format!("trainyard-kek-{}-{name}", uuid::Uuid::now_v7()));
    std::fs::write(&path, format!("{}\n", kek_text(byte))).unwrap();
    path
}

/// Another identity replica on the same NATS and PostgreSQL; its base URL once it serves.
async fn replica(
    app: &TestApp,
    adjust: impl FnOnce(&mut IdentityConfig),
) -> anyhow::Result<String> {
    let mut config = test_config(&app.nats, &app.db);
    adjust(&mut config);
    let replica = App::build_with(config, Box::new(std::io::sink())).await?;
    let base = format!("http://127.0.0.1:{}", replica.port());
    tokio::spawn(replica.run_until_stopped());
    Ok(base)
}

async fn me(app: &TestApp, base: &str, token: &str) -> u16 {
    app.client
        .get(format!("{base}/api/v1/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_keys_are_sealed_at_rest_and_the_key_encryption_key_rotates() {
    let app = spawn_app().await;
    let before = rows(&app).await;
    assert!(
        before.iter().all(|r| r.3.is_none() && in_the_clear(r)),
        "no KEK: in the clear"
    );
    let old_token = app.admin_token.clone();

    // The first start with a KEK seals the stored key; tokens it signed keep working.
    let first = kek_file("first", 1);
    let sealed_by_file = replica(&app, |c| {
        c.service.tokens.key_encryption_key_file = Some(first.clone())
    })
    .await
    .expect("a replica with a KEK starts");
    let sealed = rows(&app).await;
    assert_eq!(sealed.len(), before.len());
    let first_id = sealed[0].3.clone().expect("sealed");
    for (row, plain) in sealed.iter().zip(&before) {
        assert_eq!(row.3.as_deref(), Some(first_id.as_str()));
        assert!(!in_the_clear(row), "sealed");
        assert!(
            !row.1.windows(32).any(|w| w == plain.1.as_slice()),
            "no plaintext in the row"
        );
    }
    assert_eq!(me(&app, &sealed_by_file, &old_token).await, 200);
    let rotated = app
        .client
        .post(format!("{sealed_by_file}/api/v1/auth/keys/rotate"))
        .bearer_auth(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let after_rotation = rows(&app).await;
    assert_eq!(after_rotation.len(), before.len() + 1);
    assert!(
        after_rotation
            .iter()
            .all(|r| r.3.as_deref() == Some(first_id.as_str()) && !in_the_clear(r)),
        "a new signing key is sealed too"
    );

    // Without the KEK, a replica refuses to start instead of running without its keys.
    let refused = replica(&app, |_| {})
        .await
        .expect_err("no KEK, sealed keys");
    assert!(
        refused.to_string().contains("key_encryption_key"),
        "{refused}"
    );

    // Rotation: a new KEK (here from the environment's form) with the old one retired.
    let second = kek_text(2);
    let rotated_base = replica(&app, |c| {
        c.service.tokens.key_encryption_key = Some(Secret::new(second.clone()));
        c.service.tokens.retired_key_encryption_key_files = vec![first.clone()];
    })
    .await
    .expect("current and retired KEK");
    let resealed = rows(&app).await;
    let second_id = resealed[0].3.clone().unwrap();
    assert_ne!(second_id, first_id);
    assert!(resealed
        .iter()
        .all(|r| r.3.as_deref() == Some(second_id.as_str()) && !in_the_clear(r)));
    assert_eq!(me(&app, &rotated_base, &old_token).await, 200);
    // The old KEK alone opens nothing now; the new one alone does.
    assert!(replica(&app, |c| c.service.tokens.key_encryption_key_file =
        Some(first.clone()))
    .await
    .is_err());
    let new_only = replica(&app, |c| {
        c.service.tokens.key_encryption_key = Some(Secret::new(second.clone()))
    })
    .await
    .expect("the new KEK alone");
    let fresh = app.login(None, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        me(&app, &new_only, fresh["access_token"].as_str().unwrap()).await,
        200
    );
    std::fs::remove_file(first).unwrap();
}
