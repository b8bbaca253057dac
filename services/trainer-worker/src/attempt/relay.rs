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
use super::figures::ClassFigures;
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
