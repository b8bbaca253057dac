//! The migration runner: applies in order once, records checksums, refuses edited migrations,
//! and stays correct when many instances start at the same moment.

use std::time::Duration;

use deadpool_postgres::Pool;
use trainyard_platform::postgres::{migrate, pool, Migration, PostgresError};

const V1: Migration = Migration::new(
    1,
    "templates",
    "CREATE TABLE templates (id uuid PRIMARY KEY, name text NOT NULL);",
);
const V2: Migration = Migration::new(
    2,
    "template_version",
    "ALTER TABLE templates ADD COLUMN version integer NOT NULL DEFAULT 1;",
);

async fn test_pool() -> Pool {
    let db = trainyard_testkit::postgres_db().await;
    pool(&db.url(), 16, Duration::from_secs(5)).unwrap()
}

async fn recorded(pool: &Pool, schema: &str) -> Vec<(i32, String)> {
    let client = pool.get().await.unwrap();
    client
        .query(
            &format!("SELECT version, name FROM {schema}._migrations ORDER BY version"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn applies_in_order_once_and_then_only_new_ones() {
    let pool = test_pool().await;
    assert_eq!(migrate(&pool, "template", &[V1]).await.unwrap(), 1);
    assert_eq!(
        migrate(&pool, "template", &[V1]).await.unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(migrate(&pool, "template", &[V1, V2]).await.unwrap(), 1);
    assert_eq!(migrate(&pool, "template", &[V1, V2]).await.unwrap(), 0);
    assert_eq!(
        recorded(&pool, "template").await,
        vec![(1, "templates".into()), (2, "template_version".into())]
    );
    let client = pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO template.templates (id, name) VALUES (gen_random_uuid(), 'ocr')",
            &[],
        )
        .await
        .unwrap();
    let version: i32 = client
        .query_one("SELECT version FROM template.templates", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, 1);
}

#[tokio::test]
async fn concurrent_starts_apply_each_migration_exactly_once() {
    let pool = test_pool().await;
    let starts: Vec<_> = (0..12)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { migrate(&pool, "scheduler", &[V1, V2]).await })
        })
        .collect();
    let mut applied = 0;
    for start in starts {
        applied += start
            .await
            .unwrap()
            .expect("every concurrent start succeeds");
    }
    assert_eq!(applied, 2, "the two migrations ran once in total");
    assert_eq!(recorded(&pool, "scheduler").await.len(), 2);
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_behind() {
    let pool = test_pool().await;
    let broken = Migration::new(2, "broken", "ALTER TABLE no_such_table ADD COLUMN x int;");
    assert!(matches!(
        migrate(&pool, "identity", &[V1, broken]).await,
        Err(PostgresError::Query(_))
    ));
    let client = pool.get().await.unwrap();
    let schema_exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'identity')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        !schema_exists,
        "one transaction: V1 and the schema rolled back too"
    );
}

#[tokio::test]
async fn edited_or_misordered_migrations_are_refused() {
    let pool = test_pool().await;
    migrate(&pool, "metrics", &[V1]).await.unwrap();
    let edited = Migration::new(
        1,
        "templates",
        "CREATE TABLE templates (id uuid PRIMARY KEY);",
    );
    assert!(matches!(
        migrate(&pool, "metrics", &[edited]).await,
        Err(PostgresError::ChangedMigration { version: 1, .. })
    ));
    assert!(matches!(
        migrate(&pool, "metrics", &[V2, V1]).await,
        Err(PostgresError::MigrationOrder(1))
    ));
    assert!(matches!(
        migrate(&pool, "Bad-Name", &[V1]).await,
        Err(PostgresError::SchemaName(_))
    ));
}
