//! Rebuilding a projection (drop its schema, migrate, replay from sequence 1) reproduces the
//! same rows, and a rebuilt projection keeps following the log.

use crate::common::ledger::{publish, Ledger};
use crate::common::{env, quick_options, rows, run_until};
use trainyard_platform::projection::{read_checkpoint, ProjectionRunner};

#[tokio::test]
async fn dropping_the_schema_and_replaying_gives_identical_rows() {
    let env = env().await;
    publish(&env.js, 0, 600, 11, 256).await;
    run_until(&env, Ledger::new("ledger", "ledger"), quick_options(), 600).await;
    let before = rows(&env.pool, "ledger").await;
    assert_eq!(before.0.len(), 600);

    let runner = ProjectionRunner::new(
        Ledger::new("ledger", "ledger"),
        env.pool.clone(),
        env.js.clone(),
        quick_options(),
    )
    .unwrap();
    runner.rebuild().await.unwrap();
    assert_eq!(
        read_checkpoint(&env.pool, "ledger", "ledger")
            .await
            .unwrap(),
        0
    );
    let (log, tallies) = rows(&env.pool, "ledger").await;
    assert!(
        log.is_empty() && tallies.is_empty(),
        "rebuild starts from empty tables"
    );

    run_until(&env, Ledger::new("ledger", "ledger"), quick_options(), 600).await;
    assert_eq!(rows(&env.pool, "ledger").await, before);

    publish(&env.js, 600, 650, 11, 64).await;
    run_until(&env, Ledger::new("ledger", "ledger"), quick_options(), 650).await;
    assert_eq!(rows(&env.pool, "ledger").await.0.len(), 650);
}
