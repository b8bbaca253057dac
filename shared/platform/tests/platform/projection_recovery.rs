//! Crash recovery of the projection runner against real NATS and PostgreSQL: a runner stopped by
//! an injected fault at the worst moments, then restarted, ends with exactly the rows of a replay
//! from scratch.

use std::time::Duration;

use crate::common::ledger::{publish, Ledger};
use crate::common::{env, quick_options, rows, run_until, run_until_fault, WAIT};
use trainyard_platform::projection::{
    read_checkpoint, FaultPoint, ProjectionError, ProjectionRunner, RunnerOptions,
};
use trainyard_testkit::wait_until;

const ACCOUNTS: u64 = 7;

/// Rows of the same events replayed by a fresh projection in its own schema.
async fn replay_rows(
    env: &crate::common::Env,
    events: u64,
) -> (Vec<(i64, String, i64)>, Vec<(String, i64, i64)>) {
    run_until(
        env,
        Ledger::new("replay", "replay"),
        quick_options(),
        events,
    )
    .await;
    rows(&env.pool, "replay").await
}

/// Runs the `ledger` projection until `fault` stops it and returns the checkpoint it left.
async fn crash_at(env: &crate::common::Env, fault: FaultPoint, options: &RunnerOptions) -> u64 {
    let error = run_until_fault(
        env,
        Ledger::new("ledger", "ledger"),
        RunnerOptions {
            fault: Some(fault),
            ..options.clone()
        },
    )
    .await;
    assert!(
        matches!(error, ProjectionError::InjectedFault(f) if f == fault),
        "{error}"
    );
    read_checkpoint(&env.pool, "ledger", "ledger")
        .await
        .unwrap()
}

#[tokio::test]
async fn crash_between_commit_and_ack_applies_each_event_once() {
    let env = env().await;
    publish(&env.js, 0, 250, ACCOUNTS, 256).await;
    let options = RunnerOptions {
        // Short, so the uncommitted acknowledgement shows up as a redelivery within the test.
        ack_wait: Duration::from_secs(1),
        ..quick_options()
    };

    let checkpoint = crash_at(&env, FaultPoint::AfterCommit { batch: 3 }, &options).await;
    assert_eq!(checkpoint, 250);

    // Restart: the consumer still holds events 201..=250 unacknowledged and redelivers them
    // after `ack_wait`; the runner must recognise them as applied.
    let runner = ProjectionRunner::new(
        Ledger::new("ledger", "ledger"),
        env.pool.clone(),
        env.js.clone(),
        options,
    )
    .unwrap();
    let monitor = runner.monitor();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = runner.spawn(shutdown.clone());
    wait_until(WAIT, "the redelivered batch to be acknowledged", || {
        let monitor = monitor.clone();
        async move { monitor.lag().await.is_ok_and(|lag| lag.pending_events == 0) }
    })
    .await;
    publish(&env.js, 250, 300, ACCOUNTS, 64).await;
    wait_until(WAIT, "events published after the restart", || {
        let monitor = monitor.clone();
        async move { monitor.lag().await.is_ok_and(|lag| lag.checkpoint == 300) }
    })
    .await;
    shutdown.cancel();
    task.await.unwrap().unwrap();

    let recovered = rows(&env.pool, "ledger").await;
    assert_eq!(recovered.0.len(), 300, "one log row per event");
    assert_eq!(recovered, replay_rows(&env, 300).await);
}

#[tokio::test]
async fn crash_before_commit_loses_nothing_even_while_new_events_arrive() {
    let env = env().await;
    publish(&env.js, 0, 250, ACCOUNTS, 256).await;
    // A long ack_wait: the rolled-back batch stays "delivered" on the consumer for the whole test,
    // so only repositioning the consumer at the checkpoint can bring those events back.
    let options = RunnerOptions {
        ack_wait: Duration::from_secs(300),
        ..quick_options()
    };
    let checkpoint = crash_at(&env, FaultPoint::BeforeCommit { batch: 2 }, &options).await;
    assert_eq!(checkpoint, 100);

    publish(&env.js, 250, 320, ACCOUNTS, 64).await;
    run_until(&env, Ledger::new("ledger", "ledger"), options, 320).await;

    let recovered = rows(&env.pool, "ledger").await;
    assert_eq!(recovered.0.len(), 320, "one log row per event");
    assert_eq!(recovered, replay_rows(&env, 320).await);
}

#[tokio::test]
async fn two_instances_of_one_projection_apply_each_event_once() {
    let env = env().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    let mut checkpoints = Vec::new();
    for _ in 0..2 {
        let runner = ProjectionRunner::new(
            Ledger::new("ledger", "ledger"),
            env.pool.clone(),
            env.js.clone(),
            quick_options(),
        )
        .unwrap();
        checkpoints.push(runner.checkpoints());
        tasks.push(runner.spawn(shutdown.clone()));
    }
    publish(&env.js, 0, 500, ACCOUNTS, 16).await;
    wait_until(WAIT, "one instance to reach the last event", || {
        let done = checkpoints.iter().any(|c| *c.borrow() == 500);
        async move { done }
    })
    .await;
    shutdown.cancel();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let applied = rows(&env.pool, "ledger").await;
    assert_eq!(applied.0.len(), 500);
    assert_eq!(applied, replay_rows(&env, 500).await);
}

#[tokio::test]
async fn per_event_and_batched_application_agree() {
    let env = env().await;
    publish(&env.js, 0, 400, ACCOUNTS, 128).await;
    let single = Ledger {
        batched: false,
        ..Ledger::new("single", "single")
    };
    run_until(&env, single, quick_options(), 400).await;
    assert_eq!(
        rows(&env.pool, "single").await,
        replay_rows(&env, 400).await
    );
}
