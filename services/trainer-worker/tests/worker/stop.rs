//! Stop and resume: a stop order ends a run within an iteration with a stored checkpoint, a busy
//! worker refuses other attempts without disturbing its own, and a start order that resumes from
//! the checkpoint continues from its iteration to a model.

use std::time::Duration;

use trainyard_core::contracts::dispatch::{DispatchOrder, StartOrder};
use trainyard_core::contracts::metric::MetricPoint;
use trainyard_core::contracts::report::{ReportBody, RunStage};
use uuid::Uuid;

use trainyard_testkit::wait_until;

use crate::helpers::{Env, WAIT};
use crate::reading::{bodies, is_final};

const ITERATIONS: u64 = 240;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_resumes_from_its_checkpoint_to_a_model() {
    let env = Env::start().await;
    let dataset = env.dataset(3, 24, 32).await;
    let order = env.order(&dataset, ITERATIONS);
    env.send(DispatchOrder::Start(order.clone())).await;
    let mut reports = env
        .reports_until(order.process_id, |b| {
            matches!(b, ReportBody::Running { .. })
        })
        .await;

    // Another process on the busy machine is refused; the running attempt is not disturbed.
    let other = env.order(&dataset, 4);
    env.send(DispatchOrder::Start(other.clone())).await;
    let refused = env.reports_until(other.process_id, is_final).await;
    match &refused[..] {
        [only] => match &only.body {
            ReportBody::Failed(f) => {
                assert_eq!(
                    (f.code.as_str(), f.stage),
                    ("worker.busy", RunStage::Accepted)
                )
            }
            other => panic!("{other:?}"),
        },
        more => panic!("{:?}", bodies(more)),
    }

    env.send(env.stop_order(&order)).await;
    reports.extend(env.reports_until(order.process_id, is_final).await);
    let (iterations_done, checkpoint) = match &reports.last().unwrap().body {
        ReportBody::Stopped {
            iterations_done,
            checkpoint,
        } => (*iterations_done, checkpoint.clone().expect("a checkpoint")),
        other => panic!("not stopped: {other:?}"),
    };
    // Stopped at once, not trained to the end; the checkpoint is where training stopped.
    assert!(
        iterations_done < ITERATIONS / 2,
        "stopped after {iterations_done}"
    );
    assert!(checkpoint.iteration > 0);
    assert_eq!(checkpoint.iteration, iterations_done);
    assert!(reports
        .iter()
        .any(|r| r.body == ReportBody::Checkpointed(checkpoint.clone())));
    env.download(&env.checkpoints, &checkpoint.object).await;
    let last_point = env
        .points(order.process_id)
        .await
        .iter()
        .map(MetricPoint::iteration)
        .max();
    assert_eq!(last_point, Some(iterations_done));
    // Attempt 2 continues from the checkpoint.
    let resumed = StartOrder {
        order_id: Uuid::now_v7(),
        attempt: 2,
        resume: Some(checkpoint.clone()),
        ..order.clone()
    };
    env.send(DispatchOrder::Start(resumed.clone())).await;
    let reports = env.reports_until(order.process_id, is_final).await;
    assert!(
        reports.iter().all(|r| r.attempt == 2),
        "{:?}",
        bodies(&reports)
    );
    let start_iteration = reports
        .iter()
        .find_map(|r| match r.body {
            ReportBody::Running {
                start_iteration, ..
            } => Some(start_iteration),
            _ => None,
        })
        .expect("a running report");
    assert_eq!(start_iteration, checkpoint.iteration);
    let ReportBody::Succeeded(model) = &reports.last().unwrap().body else {
        panic!("{:?}", bodies(&reports));
    };
    assert_eq!((model.attempt, model.metrics.iterations), (2, ITERATIONS));
    let second: Vec<u64> = env
        .points(order.process_id)
        .await
        .iter()
        .filter_map(|p| match p {
            MetricPoint::Iteration(p) if p.attempt == 2 => Some(p.iteration),
            _ => None,
        })
        .collect();
    assert_eq!(
        second,
        (checkpoint.iteration + 1..=ITERATIONS).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_shut_down_mid_run_fails_the_attempt_with_a_checkpoint_to_continue_from() {
    let mut env = Env::start().await;
    let dataset = env.dataset(3, 16, 24).await;
    let order = env.order(&dataset, 100_000);
    env.send(DispatchOrder::Start(order.clone())).await;
    env.reports_until(order.process_id, |b| {
        matches!(b, ReportBody::Running { .. })
    })
    .await;
    let beats = env.heartbeats.clone();
    wait_until(WAIT, "a heartbeat naming the running attempt", || {
        let beats = beats.clone();
        async move {
            beats.lock().unwrap().iter().any(|b| {
                b.busy
                    .is_some_and(|b| b.process_id == order.process_id && b.iteration > 0)
            })
        }
    })
    .await;
    tokio::time::timeout(Duration::from_secs(60), env.shut_down())
        .await
        .expect("the worker stops");
    let reports = env.reports_until(order.process_id, is_final).await;
    let ReportBody::Failed(failure) = &reports.last().unwrap().body else {
        panic!("{:?}", bodies(&reports));
    };
    assert_eq!(failure.code, "worker.shutdown");
    let checkpoint = reports
        .iter()
        .rev()
        .find_map(|r| match &r.body {
            ReportBody::Checkpointed(c) => Some(c.clone()),
            _ => None,
        })
        .expect("a checkpoint before the failure");
    assert!(failure.message.contains(&checkpoint.iteration.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_for_an_attempt_not_running_here_is_answered_for_that_attempt() {
    let env = Env::start().await;
    let dataset = env.dataset(2, 4, 16).await;
    // Started before this worker came up, say, and lost with its predecessor.
    let lost = env.order(&dataset, 4);
    env.send(env.stop_order(&lost)).await;
    let reports = env.reports_until(lost.process_id, is_final).await;
    assert_eq!(reports.len(), 1, "{:?}", bodies(&reports));
    assert_eq!(
        reports[0].body,
        ReportBody::Stopped {
            iterations_done: 0,
            checkpoint: None
        }
    );
    assert_eq!(
        (reports[0].order_id, reports[0].attempt),
        (lost.order_id, lost.attempt)
    );
}
