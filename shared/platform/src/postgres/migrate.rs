//! A small migration runner. A service embeds its SQL files (`include_str!`) as an ordered list;
//! [`migrate`] applies the missing ones in one transaction, records each in `<schema>._migrations`
//! with a SHA-256 of its text, and refuses to start if an applied file was edited afterwards.
//! A transaction-scoped advisory lock keyed on the schema serialises concurrent starts, so two
//! replicas booting at once neither fail on `CREATE SCHEMA` nor apply a migration twice.

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};

use super::{check_schema_name, PostgresError};

/// One embedded SQL file. Statements run with `search_path` set to the service's schema, so they
/// name tables without qualifying them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub const fn new(version: i32, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sql }
    }

    fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.sql.as_bytes()))
    }
}

/// Creates `schema` if needed and applies the migrations it lacks; returns how many ran.
pub async fn migrate(
    pool: &Pool,
    schema: &str,
    migrations: &[Migration],
) -> Result<usize, PostgresError> {
    check_schema_name(schema)?;
    check_order(migrations)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // hashtext keeps the lock key stable across processes without a shared registry of keys.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("trainyard.migrate.{schema}")],
    )
    .await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         SET LOCAL search_path TO {schema};
         CREATE TABLE IF NOT EXISTS {schema}._migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             checksum text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await?;
    let applied = tx
        .query(
            &format!("SELECT version, checksum FROM {schema}._migrations"),
            &[],
        )
        .await?;
    let mut ran = 0;
    for migration in migrations {
        let recorded = applied
            .iter()
            .find(|row| row.get::<_, i32>(0) == migration.version);
        match recorded {
            Some(row) if row.get::<_, String>(1) != migration.checksum() => {
                return Err(PostgresError::ChangedMigration {
                    schema: schema.to_owned(),
                    version: migration.version,
                    name: migration.name.to_owned(),
                });
            }
            Some(_) => {}
            None => {
                apply_one(&tx, schema, migration).await?;
                ran += 1;
            }
        }
    }
    tx.commit().await?;
    if ran > 0 {
        tracing::info!(schema, ran, "applied migrations");
    }
    Ok(ran)
}

async fn apply_one(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    migration: &Migration,
) -> Result<(), PostgresError> {
    tx.batch_execute(migration.sql).await?;
    tx.execute(
        &format!("INSERT INTO {schema}._migrations (version, name, checksum) VALUES ($1, $2, $3)"),
        &[&migration.version, &migration.name, &migration.checksum()],
    )
    .await?;
    Ok(())
}

fn check_order(migrations: &[Migration]) -> Result<(), PostgresError> {
    for pair in migrations.windows(2) {
        if pair[1].version <= pair[0].version {
            return Err(PostgresError::MigrationOrder(pair[1].version));
        }
    }
    Ok(())
}
