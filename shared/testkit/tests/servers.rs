//! The test kit's servers are real, isolated and removed afterwards.

use std::time::Duration;

use trainyard_testkit::{nats, postgres_db, wait_until};

#[tokio::test]
async fn each_nats_server_is_fresh_and_removed_on_drop() {
    let a = nats();
    let b = nats();
    assert_ne!(a.port(), b.port());
    let store = a.store_dir().to_path_buf();
    assert!(store.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", a.port())).is_ok());
    let port = a.port();
    drop(a);
    wait_until(Duration::from_secs(10), "nats store removed", || {
        let gone = !store.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_err();
        async move { gone }
    })
    .await;
}

#[tokio::test]
async fn each_test_gets_its_own_empty_database() {
    let a = postgres_db().await;
    let b = postgres_db().await;
    assert_ne!(a.name(), b.name());
    let (client, conn) = tokio_postgres::connect(&a.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let (other, conn) = tokio_postgres::connect(&b.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let err = other.query("SELECT x FROM t", &[]).await.unwrap_err();
    let code = err.code().expect("a database error");
    assert_eq!(
        code,
        &tokio_postgres::error::SqlState::UNDEFINED_TABLE,
        "{err:?}"
    );
}
