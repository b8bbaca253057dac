//! Turns the job's events into what the rest of the platform sees: stage reports, `running`
//! after the first iteration, throttled `progress` with the time left, a metric point for every
//! iteration and epoch, and checkpoints handed to the upload task. Times come from the training
//! thread (when the event happened), not from when it is relayed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc::UnboundedSender;
use trainyard_core::contracts::metric::{EpochPoint, IterationPoint, MetricPoint};
use trainyard_core::contracts::report::{Progress as ProgressReport, ReportBody, RunStage};
use trainyard_core::contracts::worker::Busy;
use trainyard_core::TargetMachineId;
use trainyard_engine::train::{EpochMetrics, Progress};

use super::checkpoints::Staged;
use super::engine::{JobEvent, Plan};
use crate::eta::EtaModel;
use crate::points::Points;
use crate::report::{NotDelivered, Reporter};

#[derive(Debug)]
pub struct Relay {
    pub reporter: Reporter,
    pub points: Points,
    pub uploads: UnboundedSender<Staged>,
    pub busy: Arc<Mutex<Option<Busy>>>,
    pub machine_id: TargetMachineId,
    pub period: Duration,
    state: Option<Training>,
}

/// What is known once training has been planned.
#[derive(Debug)]
struct Training {
    plan: Plan,
    eta: EtaModel,
    started: Instant,
    iteration: u64,
    epoch: u64,
    running_sent: bool,
    progress_sent: Option<Instant>,
    progress_seq: u64,
    epoch_started: Instant,
}

impl Relay {
    pub fn new(
        reporter: Reporter,
        points: Points,
        uploads: UnboundedSender<Staged>,
        busy: Arc<Mutex<Option<Busy>>>,
        machine_id: TargetMachineId,
        period: Duration,
    ) -> Self {
        Self {
            reporter,
            points,
            uploads,
            busy,
            machine_id,
            period,
            state: None,
        }
    }

    pub async fn handle(&mut self, event: JobEvent) -> Result<(), NotDelivered> {
        match event {
            JobEvent::Stage(stage) => self.stage(stage).await,
            JobEvent::Planned(plan) => {
                let now = Instant::now();
                self.state = Some(Training {
                    eta: EtaModel::new(plan.shape, plan.start_iteration, 0.0),
                    iteration: plan.start_iteration,
                    epoch: 0,
                    plan,
                    started: now,
                    running_sent: false,
                    progress_sent: None,
                    progress_seq: 0,
                    epoch_started: now,
                });
                Ok(())
            }
            JobEvent::Checkpoint(staged) => {
                let _ = self.uploads.send(staged);
                Ok(())
            }
            JobEvent::Progress { progress, at, wall } => self.progress(progress, at, wall).await,
        }
    }

    pub async fn stage(&self, stage: RunStage) -> Result<(), NotDelivered> {
        let key = format!("stage/{}", stage.as_str());
        self.reporter.send(&key, ReportBody::Stage { stage }).await
    }

    async fn progress(
        &mut self,
        progress: Progress,
        at: Instant,
        wall: DateTime<Utc>,
    ) -> Result<(), NotDelivered> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let clock = at.duration_since(state.started).as_secs_f64();
        match progress {
            Progress::Iteration {
                iteration,
                total_iterations,
                epoch,
                lr,
                loss,
                images_per_sec,
                ..
            } => {
                state.eta.iteration(iteration, clock);
                state.iteration = iteration;
                state.epoch = epoch;
                self.points.publish(MetricPoint::Iteration(IterationPoint {
                    process_id: self.reporter.process_id(),
                    machine_id: self.machine_id,
                    attempt: self.reporter.attempt(),
                    iteration,
                    epoch,
                    iterations_per_epoch: state.plan.shape.iterations_per_epoch,
                    train_loss: loss,
                    learning_rate: lr,
                    images_per_sec,
                    batch_size: state.plan.shape.batch as u32,
                    at: wall,
                }));
                if let Ok(mut busy) = self.busy.lock() {
                    if let Some(busy) = busy.as_mut() {
                        busy.iteration = iteration;
                    }
                }
                if !state.running_sent {
                    state.running_sent = true;
                    let body = ReportBody::Running {
                        total_iterations,
                        device: state.plan.device.clone(),
                        start_iteration: iteration - 1,
                    };
                    self.reporter.send("running", body).await?;
                    state.progress_sent = Some(Instant::now());
                }
                self.progress_due().await?;
            }
            Progress::Epoch(metrics) => {
                state.eta.evaluated(clock);
                let epoch_secs = at.duration_since(state.epoch_started).as_secs_f64();
                state.epoch_started = at;
                let point = epoch_point(self, &metrics, epoch_secs, wall);
                self.points.publish(MetricPoint::Epoch(point));
            }
            Progress::Checkpoint { .. } => state.eta.checkpointed(clock),
            Progress::Finished(_) => {}
        }
        Ok(())
    }

    /// Sends a progress report when the last one is at least a period old.
    pub async fn progress_due(&mut self) -> Result<(), NotDelivered> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let now = Instant::now();
        let due = state.running_sent
            && state
                .progress_sent
                .is_none_or(|sent| now.duration_since(sent) >= self.period);
        if !due {
            return Ok(());
        }
        let Some(eta) = state
            .eta
            .estimate(now.duration_since(state.started).as_secs_f64())
        else {
            return Ok(());
        };
        let shape = state.plan.shape;
        let report = ProgressReport {
            iteration: state.iteration,
            total_iterations: shape.total_iterations,
            epoch: state.epoch,
            total_epochs: shape.total_iterations.div_ceil(shape.iterations_per_epoch),
            images_per_sec: state.eta.images_per_sec(),
            elapsed_secs: now.duration_since(state.started).as_secs_f64(),
            eta,
        };
        state.progress_sent = Some(now);
        state.progress_seq += 1;
        let key = format!("progress/{}", state.progress_seq);
        self.reporter.send(&key, ReportBody::Progress(report)).await
    }

    /// Iterations done so far (the checkpoint's on a resumed run before its first step).
    pub fn iterations_done(&self) -> u64 {
        self.state.as_ref().map_or(0, |s| s.iteration)
    }
}

fn epoch_point(
    relay: &Relay,
    metrics: &EpochMetrics,
    epoch_secs: f64,
    at: DateTime<Utc>,
) -> EpochPoint {
    let labels = relay
        .state
        .as_ref()
        .map(|s| s.plan.labels.clone())
        .unwrap_or_default();
    let figures = ClassFigures::from_confusion(&metrics.confusion);
    EpochPoint {
        process_id: relay.reporter.process_id(),
        machine_id: relay.machine_id,
        attempt: relay.reporter.attempt(),
        epoch: metrics.epoch,
        iteration: metrics.iteration,
        learning_rate: metrics.lr,
        train_loss: metrics.train_loss_avg,
        test_loss: metrics.test_loss,
        test_accuracy: metrics.test_accuracy,
        labels,
        per_class_accuracy: metrics.per_class_accuracy.clone(),
        per_class_precision: Some(figures.precision),
        macro_f1: Some(figures.macro_f1),
        balanced_accuracy: Some(figures.balanced_accuracy),
        validation_accuracy: None,
        validation_loss: None,
        confusion: metrics.confusion.clone(),
        epoch_secs,
        at,
    }
}

/// Per-class figures derived from a confusion matrix (`[true][predicted]`). A class never
/// predicted has precision 0; a class with no test images has recall 0.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassFigures {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub macro_f1: f64,
    pub balanced_accuracy: f64,
}

impl ClassFigures {
    pub fn from_confusion(confusion: &[Vec<u64>]) -> Self {
        let n = confusion.len();
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let recall: Vec<f64> = (0..n)
            .map(|c| ratio(confusion[c][c], confusion[c].iter().sum()))
            .collect();
        let precision: Vec<f64> = (0..n)
            .map(|c| ratio(confusion[c][c], confusion.iter().map(|row| row[c]).sum()))
            .collect();
        let f1: Vec<f64> = precision
            .iter()
            .zip(&recall)
            .map(|(p, r)| {
                if p + r == 0.0 {
                    0.0
                } else {
                    2.0 * p * r / (p + r)
                }
            })
            .collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        Self {
            macro_f1: mean(&f1),
            balanced_accuracy: mean(&recall),
            precision,
            recall,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_figures_follow_their_definitions() {
        // Class 0: 8 of 10 right, 2 taken for class 1; class 1: 5 of 5 right.
        let f = ClassFigures::from_confusion(&[vec![8, 2], vec![0, 5]]);
        assert_eq!(f.recall, [0.8, 1.0]);
        assert_eq!(f.precision, [1.0, 5.0 / 7.0]);
        let f1_0 = 2.0 * 0.8 / 1.8;
        let f1_1 = 2.0 * (5.0 / 7.0) / (5.0 / 7.0 + 1.0);
        assert!((f.macro_f1 - (f1_0 + f1_1) / 2.0).abs() < 1e-12);
        assert!((f.balanced_accuracy - 0.9).abs() < 1e-12);
    }
}
