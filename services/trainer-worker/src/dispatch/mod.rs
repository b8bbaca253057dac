//! The machine's work queue: a durable pull consumer on `DISPATCH` filtered to
//! `dispatch.<machine_id>`, pulled all the time — also while an attempt runs, so a stop order is
//! seen at once. One attempt runs at a time. What each order does:
//!
//! * **start**, idle: the `accepted` report is published and stored before the order is
//!   acknowledged (a crash in between delivers the order again; the report, whose id derives
//!   from the order id, is stored once), then the attempt runs.
//! * **start** for the attempt already running, or for one that ended here: a redelivery;
//!   acknowledged, nothing else.
//! * **start** for another attempt while one runs: refused with a `failed` report for that
//!   attempt (`worker.busy`, stage `accepted`); the running attempt goes on.
//! * **stop** for the running attempt: training ends before its next iteration with a checkpoint;
//!   the attempt reports `stopped`.
//! * **stop** for an attempt not running here (lost in a crash or never started): answered
//!   `stopped` under the attempt's start order (the stop order names it), with no iterations and
//!   no checkpoint — this worker did none of them; the scheduler keeps the checkpoints it was
//!   told of. A stop for an attempt that already ended here is acknowledged and ignored.
//! * an order that cannot be read is logged and terminated (never delivered again).

mod orders;

use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer, DeliverPolicy};
use async_nats::jetstream::Message;
use futures::StreamExt;
use tokio::task::{JoinError, JoinHandle};
use trainyard_core::contracts::report::RunStage;
use trainyard_core::TrainingProcessId;
use trainyard_platform::streams::ensure_durable_consumer;
use uuid::Uuid;

use crate::attempt::failure::{fail, panic_message};
use crate::attempt::stop::{StopCause, Stopper};
use crate::attempt::{self, Ending};
use crate::report::Reporter;
use crate::worker::Shared;

/// Attempts that ended here, remembered to recognise redelivered orders.
const REMEMBERED: usize = 64;
/// How long a delivered order may stay unacknowledged before it is delivered again.
const ACK_WAIT: Duration = Duration::from_secs(30);

pub(super) struct Running {
    pub(super) order_id: Uuid,
    pub(super) process_id: TrainingProcessId,
    pub(super) attempt: u32,
    pub(super) stopper: Stopper,
    pub(super) reporter: Reporter,
    /// Set when the attempt is over and only its final report remains to be sent.
    pub(super) ending: Arc<AtomicBool>,
    pub(super) handle: JoinHandle<()>,
}

pub(super) struct Dispatcher {
    pub(super) shared: Arc<Shared>,
    pub(super) current: Option<Running>,
    pub(super) ended: VecDeque<(Uuid, TrainingProcessId, u32)>,
}

enum Next {
    Shutdown,
    Ended(Result<(), JoinError>),
    Order(Option<Result<Box<Message>, String>>),
}

/// Takes orders until shutdown; then stops a running attempt and waits for its final report.
pub async fn run(shared: Arc<Shared>) {
    let mut dispatcher = Dispatcher {
        shared,
        current: None,
        ended: VecDeque::new(),
    };
    let Some(consumer) = dispatcher.consumer().await else {
        return;
    };
    let mut messages = None;
    loop {
        if messages.is_none() {
            match consumer.stream().max_messages_per_batch(4).messages().await {
                Ok(stream) => messages = Some(stream),
                Err(error) => {
                    tracing::warn!(%error, "dispatch queue not readable; retrying");
                    if dispatcher.pause(Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            }
        }
        let stream = messages.as_mut().expect("opened above");
        let next = tokio::select! {
            _ = dispatcher.shared.infra.shutdown.cancelled() => Next::Shutdown,
            ended = wait(&mut dispatcher.current) => Next::Ended(ended),
            message = stream.next() => Next::Order(message.map(|m| m.map(Box::new).map_err(|e| e.to_string()))),
        };
        match next {
            Next::Shutdown => break,
            Next::Ended(result) => dispatcher.ended(result).await,
            Next::Order(Some(Ok(message))) => dispatcher.order(*message).await,
            Next::Order(Some(Err(error))) => {
                tracing::warn!(%error, "dispatch queue error");
                if dispatcher.pause(Duration::from_millis(500)).await {
                    break;
                }
            }
            Next::Order(None) => messages = None,
        }
    }
    if let Some(running) = dispatcher.current.as_ref() {
        running.stopper.stop(StopCause::Shutdown);
        let result = wait(&mut dispatcher.current).await;
        dispatcher.ended(result).await;
    }
}

/// The running attempt's end; never, when none runs.
pub(super) async fn wait(current: &mut Option<Running>) -> Result<(), JoinError> {
    match current.as_mut() {
        Some(running) => (&mut running.handle).await,
        None => std::future::pending().await,
    }
}

impl Dispatcher {
    /// Sleeps unless shut down first (then true).
    async fn pause(&self, pause: Duration) -> bool {
        tokio::select! {
            _ = self.shared.infra.shutdown.cancelled() => true,
            _ = tokio::time::sleep(pause) => false,
        }
    }

    /// The durable consumer, once the stream exists.
    async fn consumer(&self) -> Option<Consumer<pull::Config>> {
        let infra = &self.shared.infra;
        let config = pull::Config {
            durable_name: Some(format!("worker-{}", self.shared.machine_id)),
            description: Some("Orders for one target machine's worker".into()),
            filter_subject: infra.names.dispatch_subject(self.shared.machine_id),
            ack_policy: AckPolicy::Explicit,
            ack_wait: ACK_WAIT,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        };
        let mut warned = false;
        loop {
            let made = match infra.js.get_stream(&infra.names.dispatch).await {
                Ok(stream) => ensure_durable_consumer(&infra.js, &stream, config.clone())
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match made {
                Ok(consumer) => return Some(consumer),
                Err(error) if !warned => {
                    tracing::warn!(%error, "dispatch queue not available yet; waiting");
                    warned = true;
                }
                Err(_) => {}
            }
            if self.pause(Duration::from_secs(1)).await {
                return None;
            }
        }
    }

    pub(super) async fn ended(&mut self, result: Result<(), JoinError>) {
        let Some(running) = self.current.take() else {
            return;
        };
        if let Ok(mut busy) = self.shared.busy.lock() {
            *busy = None;
        }
        if let Err(error) = result {
            let message = match error.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(error) => error.to_string(),
            };
            tracing::error!(%message, "attempt ended abnormally");
            let failure = fail("worker.internal", RunStage::Training, message);
            attempt::finish(&running.reporter, Ending::Failed(failure)).await;
        }
        self.ended
            .push_back((running.order_id, running.process_id, running.attempt));
        if self.ended.len() > REMEMBERED {
            self.ended.pop_front();
        }
    }
}
