//! A worker whose registration is refused takes no order and sends no heartbeat, keeps asking,
//! and starts work once accepted.

use std::sync::atomic::Ordering;
use std::time::Duration;

use trainyard_core::contracts::dispatch::DispatchOrder;
use trainyard_core::contracts::report::ReportBody;
use trainyard_testkit::wait_until;

use crate::helpers::{Env, WAIT};
use crate::reading::is_final;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_worker_takes_no_orders_until_accepted() {
    let mut env = Env::new(false).await;
    let dataset = env.dataset(2, 8, 16).await;
    let order = env.order(&dataset, 4);
    env.send(DispatchOrder::Start(order.clone())).await;
    env.spawn_worker();
    let seen = env.registrations.clone();
    wait_until(WAIT, "three refused registrations", || {
        let seen = seen.clone();
        async move { seen.load(Ordering::SeqCst) >= 3 }
    })
    .await;

    // Refused: the order still waits in the queue, nobody consumes it, nothing was reported.
    let mut dispatch = env.js.get_stream(&env.names.dispatch).await.unwrap();
    assert_eq!(dispatch.info().await.unwrap().state.messages, 1);
    assert_eq!(dispatch.info().await.unwrap().state.consumer_count, 0);
    assert_eq!(env.pending_reports(order.process_id).await, 0);
    assert!(env.heartbeats.lock().unwrap().is_empty());
    assert!(env.worker_alive());

    // Accepted: it takes the order and heartbeats.
    env.accept.store(true, Ordering::SeqCst);
    let reports = env.reports_until(order.process_id, is_final).await;
    assert_eq!(reports[0].body, ReportBody::Accepted);
    assert!(matches!(
        reports.last().unwrap().body,
        ReportBody::Succeeded(_)
    ));
    let beats = env.heartbeats.clone();
    wait_until(Duration::from_secs(10), "a heartbeat", || {
        let beats = beats.clone();
        async move { !beats.lock().unwrap().is_empty() }
    })
    .await;
    env.shut_down().await;
}
