//! A measurement, not a check (ignored by default; about 30 s alone): how often the band of the
//! progress reports of a run of about 30 s holds the time actually left until `succeeded`, how
//! wide it is and how far the central estimate is off. Run with
//! `cargo test -p trainyard-worker --test worker -- --ignored --nocapture time_left`.

use trainyard_core::contracts::dispatch::DispatchOrder;
use trainyard_core::contracts::report::ReportBody;

use crate::helpers::Env;
use crate::reading::is_final;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of about 30 s; run it on purpose"]
async fn time_left_against_the_actual_end_of_a_run() {
    let env = Env::start().await;
    let dataset = env.dataset(5, 60, 64).await;
    let order = env.order(&dataset, 1200);
    env.send(DispatchOrder::Start(order.clone())).await;
    // A busy machine may take several times longer.
    let wait = std::time::Duration::from_secs(600);
    let reports = env.reports_within(order.process_id, wait, is_final).await;
    assert!(matches!(
        reports.last().unwrap().body,
        ReportBody::Succeeded(_)
    ));
    let end = reports.last().unwrap().sent_at;
    let samples: Vec<(f64, f64, f64, f64)> = reports
        .iter()
        .filter_map(|r| match &r.body {
            ReportBody::Progress(p) => {
                let actual = (end - r.sent_at).num_milliseconds() as f64 / 1000.0;
                Some((p.eta.low_secs, p.eta.eta_secs, p.eta.high_secs, actual))
            }
            _ => None,
        })
        .collect();
    let inside = samples
        .iter()
        .filter(|(low, _, high, actual)| low <= actual && actual <= high)
        .count();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let longer: Vec<_> = samples.iter().filter(|s| s.3 > 1.0).collect();
    let width = median(longer.iter().map(|s| (s.2 - s.0) / s.3).collect());
    let error = median(longer.iter().map(|s| ((s.1 - s.3) / s.3).abs()).collect());
    let first = reports
        .iter()
        .find(|r| matches!(r.body, ReportBody::Running { .. }));
    let secs = (end - first.unwrap().sent_at).num_milliseconds() as f64 / 1000.0;
    println!("| run (s) | progress reports | band holds the time left | median band width / time left | median abs(eta - actual) / actual |");
    println!(
        "| {secs:.1} | {} | {:.3} | {width:.2} | {error:.3} |",
        samples.len(),
        inside as f64 / samples.len() as f64
    );
}
