//! The time left of a run, from measurement. No clock is read here: callers pass the time of
//! each event (seconds on any monotonic clock), so the estimator is tested on synthetic clocks.
//!
//! Remaining work = the iterations left at the recent training throughput + the evaluations left
//! (one at every epoch end and at the last iteration) at their measured cost + the export. The
//! throughput is measured in windows of about [`WINDOW_SECS`] of pure training time (evaluation
//! and checkpoint time is kept out of it). The central estimate uses the most recent windows; the
//! band is that estimate divided and multiplied by the spread of the kept windows around it (the
//! largest factor by which one strayed, either way): a machine whose throughput has wandered by a
//! factor may wander as far again, faster as well as slower. Evaluations take the same band
//! around their recent measured cost, and the export a wide range of evaluation costs. Until an
//! evaluation has been measured its cost is estimated from the throughput (a forward pass over
//! the test images costs about a third of training on them).

use std::collections::VecDeque;

use trainyard_core::contracts::report::Eta;

/// Training time per throughput window.
pub const WINDOW_SECS: f64 = 1.0;
/// Windows the band is taken from.
pub const WINDOWS_KEPT: usize = 16;
/// Windows (and epoch ends) the central estimate is taken from: recent, so it follows a change
/// in the machine's load within seconds.
pub const WINDOWS_RECENT: usize = 4;
/// Below this many closed windows the band is widened by this factor each way.
const EARLY_WIDENING: f64 = 2.0;
const EARLY_WINDOWS: usize = 2;

/// The shape of a run, as the engine plans it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunShape {
    pub total_iterations: u64,
    pub iterations_per_epoch: u64,
    /// Images per iteration.
    pub batch: u64,
    pub test_images: u64,
}

/// A low, a central and a high figure (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Band {
    low: f64,
    mid: f64,
    high: f64,
}

impl Band {
    fn scale(self, n: f64) -> Band {
        Band {
            low: self.low * n,
            mid: self.mid * n,
            high: self.high * n,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EtaModel {
    shape: RunShape,
    iteration: u64,
    last_event: f64,
    /// Closed windows: (iterations, training seconds).
    windows: VecDeque<(u64, f64)>,
    open: (u64, f64),
    /// Evaluation and checkpoint time since the last iteration.
    pending_pause: f64,
    /// The last iteration ended an epoch whose evaluation has not finished yet.
    evaluation_due: bool,
    /// Measured cost of each epoch end (evaluation and checkpoint).
    epoch_ends: Vec<f64>,
    iterated: bool,
}

impl EtaModel {
    /// A run at `start_iteration` (0, or a checkpoint's) when training begins at `at`.
    pub fn new(shape: RunShape, start_iteration: u64, at: f64) -> Self {
        Self {
            shape: RunShape {
                iterations_per_epoch: shape.iterations_per_epoch.max(1),
                batch: shape.batch.max(1),
                ..shape
            },
            iteration: start_iteration,
            last_event: at,
            windows: VecDeque::new(),
            open: (0, 0.0),
            pending_pause: 0.0,
            evaluation_due: false,
            epoch_ends: Vec::new(),
            iterated: false,
        }
    }

    /// Iteration `iteration` finished at `at`.
    pub fn iteration(&mut self, iteration: u64, at: f64) {
        let spent = (at - self.last_event).max(0.0);
        self.last_event = at;
        if self.pending_pause > 0.0 {
            self.epoch_ends.push(self.pending_pause);
            self.pending_pause = 0.0;
        }
        self.open.0 += iteration.saturating_sub(self.iteration).max(1);
        self.open.1 += spent;
        self.iteration = iteration;
        self.iterated = true;
        let p = self.shape.iterations_per_epoch;
        self.evaluation_due =
            iteration.is_multiple_of(p) || iteration == self.shape.total_iterations;
        if self.open.1 >= WINDOW_SECS {
            self.windows.push_back(self.open);
            self.open = (0, 0.0);
            if self.windows.len() > WINDOWS_KEPT {
                self.windows.pop_front();
            }
        }
    }

    /// An epoch's evaluation finished at `at`.
    pub fn evaluated(&mut self, at: f64) {
        self.pause(at);
        self.evaluation_due = false;
    }

    /// A checkpoint was written by `at`.
    pub fn checkpointed(&mut self, at: f64) {
        self.pause(at);
    }

    fn pause(&mut self, at: f64) {
        self.pending_pause += (at - self.last_event).max(0.0);
        self.last_event = at;
    }

    /// Iterations per second over the last [`WINDOWS_RECENT`] windows and the open one.
    pub fn iterations_per_sec(&self) -> Option<f64> {
        let skip = self.windows.len().saturating_sub(WINDOWS_RECENT);
        let (n, secs) = self
            .windows
            .iter()
            .skip(skip)
            .chain(std::iter::once(&self.open))
            .fold((0u64, 0.0f64), |(n, s), w| (n + w.0, s + w.1));
        (n > 0 && secs > 0.0).then(|| n as f64 / secs)
    }

    /// Images per second over the recent windows.
    pub fn images_per_sec(&self) -> f64 {
        self.iterations_per_sec().unwrap_or(0.0) * self.shape.batch as f64
    }

    /// How far the kept windows strayed from `rate`, as a factor of at least 1 (a window at half
    /// or at twice the rate gives 2).
    fn spread(&self, rate: f64) -> f64 {
        let closed = self.windows.iter().filter(|w| w.1 > 0.0);
        let spread = closed
            .clone()
            .map(|w| (w.0 as f64 / w.1) / rate)
            .map(|r| r.max(1.0 / r))
            .fold(1.0f64, f64::max);
        if closed.count() < EARLY_WINDOWS {
            spread.max(EARLY_WIDENING)
        } else {
            spread
        }
    }

    /// The time left at `now`; `None` before the first iteration.
    pub fn estimate(&self, now: f64) -> Option<Eta> {
        if !self.iterated {
            return None;
        }
        let rate = self.iterations_per_sec()?;
        let spread = self.spread(rate);
        let left = self.shape.total_iterations.saturating_sub(self.iteration) as f64;
        let training = Band {
            low: left / (rate * spread),
            mid: left / rate,
            high: left * spread / rate,
        };
        let evaluation = self.evaluation_cost(rate, spread);
        let evaluations = evaluation.scale(self.evaluations_left() as f64);
        let export = Band {
            low: evaluation.low + 0.05,
            mid: 2.0 * evaluation.mid + 0.2,
            high: 4.0 * evaluation.high + 1.0,
        };
        let passed = (now - self.last_event).max(0.0);
        let low = (training.low + evaluations.low + export.low - passed).max(0.0);
        let mid = (training.mid + evaluations.mid + export.mid - passed).max(low);
        let high = (training.high + evaluations.high + export.high - passed).max(mid);
        Some(Eta {
            eta_secs: mid,
            low_secs: low,
            high_secs: high,
        })
    }

    /// Evaluations still to run, counting one in progress.
    fn evaluations_left(&self) -> u64 {
        let (total, p, done) = (
            self.shape.total_iterations,
            self.shape.iterations_per_epoch,
            self.iteration,
        );
        let mut left = 0;
        if done < total {
            left += total / p - done / p;
            if !total.is_multiple_of(p) {
                left += 1;
            }
        }
        left + u64::from(self.evaluation_due)
    }

    /// One epoch end's cost: the recent measurements when there are any (their band widened by
    /// the throughput's spread, as what slows training slows evaluation too), else estimated from
    /// the training throughput.
    fn evaluation_cost(&self, rate: f64, spread: f64) -> Band {
        if !self.epoch_ends.is_empty() {
            let recent = &self.epoch_ends[self.epoch_ends.len().saturating_sub(WINDOWS_RECENT)..];
            let mid = recent.iter().sum::<f64>() / recent.len() as f64;
            let kept = &self.epoch_ends[self.epoch_ends.len().saturating_sub(WINDOWS_KEPT)..];
            let (low, high) = kept
                .iter()
                .fold((mid / spread, mid * spread), |(lo, hi), &c| {
                    (lo.min(c), hi.max(c))
                });
            return Band { low, mid, high };
        }
        let training_on_test = self.shape.test_images as f64 / (rate * self.shape.batch as f64);
        Band {
            low: training_on_test / 6.0,
            mid: training_on_test / 3.0,
            high: training_on_test,
        }
    }
}

#[cfg(test)]
mod tests;
