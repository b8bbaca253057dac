//! The estimator on simulated runs with a synthetic clock: the band must contain the actual time
//! left for most of a run, sampled at regular times as an observer polling the API would, and
//! must not buy that by being uselessly wide.

use super::*;
use trainyard_engine::rng::SplitMix64;

#[derive(Debug, Clone, Copy)]
enum Event {
    Iteration(u64),
    Evaluated,
    Checkpointed,
}

/// A simulated run: its events on the clock and when it ends (after the export).
struct Run {
    shape: RunShape,
    start_iteration: u64,
    events: Vec<(f64, Event)>,
    end: f64,
}

struct Costs {
    /// Mean seconds per iteration; each one varies by ±`jitter` of it.
    iteration: f64,
    jitter: f64,
    evaluation: f64,
    checkpoint: f64,
    /// Another load on the machine from `.0` to `.1` seconds makes every step `.2` times dearer.
    load: Option<(f64, f64, f64)>,
}

impl Costs {
    /// The other job takes the machine in turns: each half second it costs between nothing and
    /// 2 × (`.2` − 1) extra, `.2` on average.
    fn factor(&self, t: f64) -> f64 {
        match self.load {
            Some((from, to, factor)) if (from..to).contains(&t) => {
                let block = (t / 0.5).floor() as u64;
                let share = SplitMix64::new(block.wrapping_mul(0x9e37_79b9)).next_f64();
                1.0 + 2.0 * (factor - 1.0) * share
            }
            _ => 1.0,
        }
    }
}

fn simulate(shape: RunShape, start_iteration: u64, costs: &Costs, seed: u64) -> Run {
    let mut rng = SplitMix64::new(seed);
    let (mut t, mut events) = (0.0, Vec::new());
    for i in start_iteration + 1..=shape.total_iterations {
        let wobble = 1.0 + costs.jitter * (2.0 * rng.next_f64() - 1.0);
        // Now and then a step stalls (another process on the machine).
        let stall = if rng.below(50) == 0 { 3.0 } else { 1.0 };
        t += costs.iteration * wobble * stall * costs.factor(t);
        events.push((t, Event::Iteration(i)));
        if i % shape.iterations_per_epoch == 0 || i == shape.total_iterations {
            t += costs.evaluation * (1.0 + 0.1 * (2.0 * rng.next_f64() - 1.0)) * costs.factor(t);
            events.push((t, Event::Evaluated));
            t += costs.checkpoint;
            events.push((t, Event::Checkpointed));
        }
    }
    Run {
        shape,
        start_iteration,
        events,
        // The export runs libtorch and ONNX Runtime over the test images (about two evaluations)
        // and stores the files.
        end: t + (2.0 * costs.evaluation + 0.15) * costs.factor(t),
    }
}

/// Samples the estimate every `every` seconds from the first iteration to the end:
/// `(time, estimate, actual time left)`.
fn sample(run: &Run, every: f64) -> Vec<(f64, Eta, f64)> {
    let mut model = EtaModel::new(run.shape, run.start_iteration, 0.0);
    let mut samples = Vec::new();
    let mut next = run.events[0].0;
    for (i, &(at, event)) in run.events.iter().enumerate() {
        match event {
            Event::Iteration(n) => model.iteration(n, at),
            Event::Evaluated => model.evaluated(at),
            Event::Checkpointed => model.checkpointed(at),
        }
        let until = run.events.get(i + 1).map_or(run.end, |e| e.0);
        while next < until {
            let eta = model.estimate(next).expect("iterations have run");
            samples.push((next, eta, run.end - next));
            next += every;
        }
    }
    samples
}

/// Share of samples whose band holds the actual time left, and the median band width relative
/// to the actual time left.
fn coverage(samples: &[(f64, Eta, f64)]) -> (f64, f64) {
    let inside = samples
        .iter()
        .filter(|(_, e, actual)| e.low_secs <= *actual && *actual <= e.high_secs)
        .count();
    let mut widths: Vec<f64> = samples
        .iter()
        .filter(|(_, _, actual)| *actual > 1.0)
        .map(|(_, e, actual)| (e.high_secs - e.low_secs) / actual)
        .collect();
    widths.sort_by(f64::total_cmp);
    (
        inside as f64 / samples.len() as f64,
        widths[widths.len() / 2],
    )
}

fn shape(total: u64, per_epoch: u64) -> RunShape {
    RunShape {
        total_iterations: total,
        iterations_per_epoch: per_epoch,
        batch: 32,
        test_images: 400,
    }
}

#[test]
fn the_band_holds_the_time_left_on_a_noisy_run() {
    let costs = Costs {
        iteration: 0.04,
        jitter: 0.3,
        evaluation: 0.6,
        checkpoint: 0.05,
        load: None,
    };
    for seed in 0..5 {
        let run = simulate(shape(600, 100), 0, &costs, seed);
        let (covered, width) = coverage(&sample(&run, 0.25));
        assert!(
            covered >= 0.8,
            "seed {seed}: band held the time left in {covered:.2} of samples"
        );
        assert!(width < 1.0, "seed {seed}: median band width {width:.2}");
    }
}

#[test]
fn evaluations_left_count_at_their_measured_cost() {
    // Evaluation is half of every epoch: an estimate from iterations alone is off by half.
    let costs = Costs {
        iteration: 0.02,
        jitter: 0.2,
        evaluation: 1.0,
        checkpoint: 0.02,
        load: None,
    };
    let run = simulate(shape(500, 50), 0, &costs, 7);
    let (covered, _) = coverage(&sample(&run, 0.25));
    assert!(covered >= 0.8, "held in {covered:.2} of samples");
}

#[test]
fn a_resumed_run_counts_only_what_is_left() {
    let costs = Costs {
        iteration: 0.03,
        jitter: 0.2,
        evaluation: 0.3,
        checkpoint: 0.02,
        load: None,
    };
    let run = simulate(shape(800, 100), 500, &costs, 3);
    let samples = sample(&run, 0.25);
    let (covered, _) = coverage(&samples);
    assert!(covered >= 0.8, "held in {covered:.2} of samples");
    // 300 iterations of 30 ms and 3 evaluations left, not 800 iterations.
    let first = samples[samples.len() / 10].1;
    assert!(first.eta_secs < 15.0, "{first:?}");
}

#[test]
fn the_estimate_is_ordered_and_counts_down_to_the_export() {
    let mut model = EtaModel::new(shape(10, 5), 0, 0.0);
    assert!(model.estimate(0.0).is_none());
    let mut t = 0.0;
    for i in 1..=10 {
        t += 0.5;
        model.iteration(i, t);
        let eta = model.estimate(t).unwrap();
        assert!(eta.low_secs <= eta.eta_secs && eta.eta_secs <= eta.high_secs);
        if i == 5 {
            t += 0.5;
            model.evaluated(t);
            t += 0.1;
            model.checkpointed(t);
        }
    }
    t += 0.5;
    model.evaluated(t);
    let last = model.estimate(t).unwrap();
    // Only the export is left: about two epoch ends' worth (0.6 s each).
    assert!(last.eta_secs > 1.0 && last.eta_secs < 2.0, "{last:?}");
    assert_eq!(model.estimate(t + 1000.0).unwrap().high_secs, 0.0);
    // 10 iterations in 5 s of training, 32 images each.
    assert!((model.images_per_sec() - 64.0).abs() < 1e-9);
}

fn busy(from: f64, to: f64) -> Costs {
    Costs {
        iteration: 0.02,
        jitter: 0.3,
        evaluation: 0.15,
        checkpoint: 0.03,
        load: Some((from, to, 1.6)),
    }
}

#[test]
fn the_band_holds_when_the_machine_gets_quieter() {
    // Another job slows steps 1.6 times on average for the first third of the run (as when other
    // tests finish while this one trains).
    let run = simulate(shape(1200, 30), 0, &busy(0.0, 10.0), 11);
    let (covered, width) = coverage(&sample(&run, 0.25));
    assert!(covered >= 0.8, "held in {covered:.2} of samples");
    assert!(width < 2.0, "median band width {width:.2}");
}

#[test]
fn the_band_catches_up_when_the_machine_gets_busier() {
    // A load that starts halfway cannot be foreseen; within a few windows the band holds again.
    let run = simulate(shape(1200, 30), 0, &busy(12.0, f64::INFINITY), 11);
    let after: Vec<_> = sample(&run, 0.25)
        .into_iter()
        .filter(|(t, _, _)| *t >= 12.0 + WINDOWS_RECENT as f64 * WINDOW_SECS * 1.6)
        .collect();
    let (covered, _) = coverage(&after);
    assert!(covered >= 0.8, "held in {covered:.2} of samples");
}
