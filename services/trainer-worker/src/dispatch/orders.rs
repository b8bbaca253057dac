//! What each kind of order does (the rules are listed on the module above).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_nats::jetstream::{AckKind, Message};
use tracing::Instrument;
use trainyard_core::contracts::dispatch::{DispatchOrder, StartOrder, StopOrder};
use trainyard_core::contracts::report::{ReportBody, RunStage};
use trainyard_core::contracts::worker::Busy;
use trainyard_core::TrainingProcessId;
use uuid::Uuid;

use super::{wait, Dispatcher, Running};
use crate::attempt::failure::fail;
use crate::attempt::stop::{StopCause, Stopper};
use crate::attempt::{self, Ending};
use crate::report::Reporter;

impl Dispatcher {
    pub(super) async fn order(&mut self, message: Message) {
        match serde_json::from_slice::<DispatchOrder>(&message.payload) {
            Ok(DispatchOrder::Start(order)) => self.start(order, message).await,
            Ok(DispatchOrder::Stop(order)) => self.stop(order, message).await,
            Err(error) => {
                tracing::error!(%error, subject = %message.subject, "unreadable order dropped");
                if let Err(error) = message.ack_with(AckKind::Term).await {
                    tracing::warn!(%error, "unreadable order not terminated");
                }
            }
        }
    }

    fn reporter(&self, process: TrainingProcessId, attempt: u32, order_id: Uuid) -> Reporter {
        let machine = self.shared.machine_id;
        Reporter::new(&self.shared.infra, machine, process, attempt, order_id)
    }

    /// Waits for an attempt that is over but still sending its final report, so an order that
    /// follows that report never finds the machine busy.
    async fn settle(&mut self) {
        if self
            .current
            .as_ref()
            .is_some_and(|r| r.ending.load(Ordering::SeqCst))
        {
            let result = wait(&mut self.current).await;
            self.ended(result).await;
        }
    }

    async fn start(&mut self, order: StartOrder, message: Message) {
        self.settle().await;
        let span =
            tracing::info_span!("attempt", process = %order.process_id, attempt = order.attempt);
        let reporter = self.reporter(order.process_id, order.attempt, order.order_id);
        let seen = self.ended.iter().any(|e| e.0 == order.order_id)
            || self
                .current
                .as_ref()
                .is_some_and(|r| r.order_id == order.order_id);
        if seen {
            tracing::info!(parent: &span, "start order delivered again; already taken");
            return ack(message).await;
        }
        if let Some(running) = &self.current {
            let refusal = fail(
                "worker.busy",
                RunStage::Accepted,
                format!(
                    "this machine is running attempt {} of process {}",
                    running.attempt, running.process_id
                ),
            );
            attempt::finish(&reporter, Ending::Failed(refusal))
                .instrument(span)
                .await;
            return ack(message).await;
        }
        if order.machine_id != self.shared.machine_id {
            let wrong = fail(
                "worker.bad_order",
                RunStage::Accepted,
                format!(
                    "the order is for machine {}, this worker serves {}",
                    order.machine_id, self.shared.machine_id
                ),
            );
            attempt::finish(&reporter, Ending::Failed(wrong))
                .instrument(span)
                .await;
            return ack(message).await;
        }
        if let Err(error) = reporter.send("accepted", ReportBody::Accepted).await {
            // Shutting down: the order stays in the queue for the next start.
            tracing::warn!(parent: &span, %error, "start order not accepted");
            return;
        }
        ack(message).await;
        tracing::info!(parent: &span, resume = order.resume.is_some(), "start order accepted");
        if let Ok(mut busy) = self.shared.busy.lock() {
            *busy = Some(Busy {
                process_id: order.process_id,
                attempt: order.attempt,
                iteration: order.resume.as_ref().map_or(0, |c| c.iteration),
            });
        }
        let stopper = Stopper::new();
        let ending = Arc::new(AtomicBool::new(false));
        self.current = Some(Running {
            order_id: order.order_id,
            process_id: order.process_id,
            attempt: order.attempt,
            stopper: stopper.clone(),
            reporter: reporter.clone(),
            ending: ending.clone(),
            handle: tokio::spawn(
                attempt::run(self.shared.clone(), order, reporter, stopper, ending)
                    .instrument(span),
            ),
        });
    }

    async fn stop(&mut self, order: StopOrder, message: Message) {
        self.settle().await;
        let span =
            tracing::info_span!("attempt", process = %order.process_id, attempt = order.attempt);
        let same = |process: TrainingProcessId, attempt: u32| {
            process == order.process_id && attempt == order.attempt
        };
        if let Some(running) = self
            .current
            .as_ref()
            .filter(|r| same(r.process_id, r.attempt))
        {
            running.stopper.stop(StopCause::Requested);
            tracing::info!(parent: &span, "stop order: stopping");
        } else if self.ended.iter().any(|e| same(e.1, e.2)) {
            tracing::info!(parent: &span, "stop order for an attempt that already ended here");
        } else if let Some(start) = order.start_order_id {
            let reporter = self.reporter(order.process_id, order.attempt, start);
            let ending = Ending::Stopped {
                iterations: 0,
                checkpoint: None,
            };
            attempt::finish(&reporter, ending).instrument(span).await;
        } else {
            tracing::warn!(parent: &span, "stop order for an attempt not running here, without its start order; acknowledged only");
        }
        ack(message).await;
    }
}

async fn ack(message: Message) {
    if let Err(error) = message.double_ack().await {
        // Delivered again later, and then recognised as already taken.
        tracing::warn!(%error, "order not acknowledged");
    }
}
