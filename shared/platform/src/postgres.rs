//! PostgreSQL access: a `deadpool` pool built from a URL, the per-service schema and its
//! migrations (see [`migrate`]), and list queries that name only the filters set ([`Filters`]). Each service owns exactly one schema; nothing else writes to it.

mod filters;
mod migrate;

use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::NoTls;

pub use deadpool_postgres::{Object as Client, Transaction};
pub use filters::{Filters, Window};
pub use migrate::{migrate, Migration};

/// Why PostgreSQL could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    #[error("invalid PostgreSQL URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    #[error("building the PostgreSQL pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    #[error("no PostgreSQL connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("PostgreSQL: {0}")]
    Query(#[from] tokio_postgres::Error),
    #[error(
        "`{0}` is not a valid schema name (lowercase letters, digits and `_`, not leading digit)"
    )]
    SchemaName(String),
    #[error("migration {version} ({name}) changed after it was applied to schema `{schema}`")]
    ChangedMigration {
        schema: String,
        version: i32,
        name: String,
    },
    #[error("migrations must have strictly increasing versions; {0} is out of order")]
    MigrationOrder(i32),
}

/// Builds a pool from a `postgres://` URL. Connections are opened lazily, so a database that is
/// down at start-up surfaces as not-ready instead of a crash loop.
pub fn pool(url: &str, max_size: usize, connect_timeout: Duration) -> Result<Pool, PostgresError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(PostgresError::Url)?;
    config.connect_timeout(connect_timeout);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // `Fast` trusts a connection that is not closed; broken ones fail the first query
            // and are dropped, which is cheaper than a round trip on every checkout.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let timeouts = Timeouts {
        wait: Some(connect_timeout),
        create: Some(connect_timeout),
        recycle: Some(connect_timeout),
    };
    Ok(Pool::builder(manager)
        .max_size(max_size)
        .timeouts(timeouts)
        .runtime(Runtime::Tokio1)
        .build()?)
}

/// Builds a pool from the shared configuration section.
pub fn pool_from_config(config: &crate::config::PostgresConfig) -> Result<Pool, PostgresError> {
    pool(&config.url, config.pool_size, config.connect_timeout())
}

/// Accepts only plain identifiers, so a schema name can be spliced into SQL without quoting.
pub fn check_schema_name(schema: &str) -> Result<(), PostgresError> {
    let mut chars = schema.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= 63 {
        Ok(())
    } else {
        Err(PostgresError::SchemaName(schema.to_owned()))
    }
}

/// Drops a schema and everything in it (a projection rebuild starts from here).
pub async fn drop_schema(pool: &Pool, schema: &str) -> Result<(), PostgresError> {
    check_schema_name(schema)?;
    let client = pool.get().await?;
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    Ok(())
}

/// Answers whether PostgreSQL responds to a trivial query (used by `/readyz`).
pub async fn ping(pool: &Pool) -> Result<(), PostgresError> {
    let client = pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}
