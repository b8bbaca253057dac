//! The loop behind a work consumer: a permit before each message (bounded concurrency), one task
//! per message with progress notices, settling by outcome, and the graceful stop.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::{AckKind, Message};
use deadpool_postgres::Pool;
use futures::{FutureExt, StreamExt};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::parked::park;
use super::{Delivery, Outcome, WorkConsumer, WorkHandler, MIGRATIONS, SCHEMA};
use crate::metrics::{Metrics, WorkLabels};
use crate::postgres::migrate;
use crate::service::Infra;
use crate::streams::ensure_durable_consumer;
use crate::telemetry::{extract_nats, set_parent_from};

/// Creates (or verifies) the durable consumer and the parked table, then runs `handler` on its
/// messages until `shutdown`.
pub(crate) async fn start<H: WorkHandler>(
    infra: &Infra,
    spec: WorkConsumer,
    handler: H,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    anyhow::ensure!(spec.concurrency > 0, "work `{}`: concurrency 0", spec.name);
    anyhow::ensure!(
        spec.progress_every < spec.ack_wait,
        "work `{}`: progress notices must come more often than ack_wait",
        spec.name
    );
    migrate(infra.pool(), SCHEMA, MIGRATIONS).await?;
    let stream = infra.js().get_stream(&spec.stream).await?;
    let mut config = pull::Config {
        durable_name: Some(spec.name.clone()),
        description: Some(spec.description.clone()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: spec.ack_wait,
        max_ack_pending: i64::try_from(spec.concurrency).unwrap_or(i64::MAX),
        ..Default::default()
    };
    match spec.filter_subjects.as_slice() {
        [one] => config.filter_subject = one.clone(),
        many => config.filter_subjects = many.to_vec(),
    }
    let consumer = ensure_durable_consumer(infra.js(), &stream, config).await?;
    let worker = Worker {
        spec: Arc::new(spec),
        handler: Arc::new(handler),
        pool: infra.pool().clone(),
        metrics: infra.metrics().clone(),
    };
    Ok(tokio::spawn(worker.run(consumer, shutdown)))
}

struct Worker<H> {
    spec: Arc<WorkConsumer>,
    handler: Arc<H>,
    pool: Pool,
    metrics: Arc<Metrics>,
}

// By hand: a derive would demand `H: Clone`.
impl<H> Clone for Worker<H> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec.clone(),
            handler: self.handler.clone(),
            pool: self.pool.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

impl<H: WorkHandler> Worker<H> {
    async fn run(self, consumer: PullConsumer, shutdown: CancellationToken) {
        let name = self.spec.name.clone();
        let permits = Arc::new(Semaphore::new(self.spec.concurrency));
        // Fires `grace` after shutdown: handlers still running then hand their message back.
        let abandon = CancellationToken::new();
        let mut tasks = JoinSet::new();
        'feed: while !shutdown.is_cancelled() {
            let mut messages = match consumer.messages().await {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(work = %name, %error, "work feed unavailable; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => break 'feed,
                        () = tokio::time::sleep(self.spec.backoff.first) => continue 'feed,
                    }
                }
            };
            loop {
                while tasks.try_join_next().is_some() {}
                // A permit first: a message is only taken when it can be worked on at once.
                let permit = tokio::select! {
                    () = shutdown.cancelled() => break 'feed,
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break 'feed,
                    },
                };
                let next = tokio::select! {
                    () = shutdown.cancelled() => break 'feed,
                    next = messages.next() => next,
                };
                match next {
                    Some(Ok(message)) => {
                        let (worker, abandon) = (self.clone(), abandon.clone());
                        tasks.spawn(async move {
                            let _permit = permit;
                            worker.deliver(message, &abandon).await;
                        });
                    }
                    Some(Err(error)) => {
                        tracing::warn!(work = %name, %error, "work feed interrupted")
                    }
                    None => {
                        tracing::warn!(work = %name, "work feed ended; reopening");
                        continue 'feed;
                    }
                }
            }
        }
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.spec.grace, drain).await.is_err() {
            tracing::warn!(work = %name, "handlers still running after the grace period; handing their messages back");
            abandon.cancel();
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Runs the handler on one message, with progress notices, and settles it.
    async fn deliver(&self, message: Message, abandon: &CancellationToken) {
        let delivery = match Delivery::new(message) {
            Ok(delivery) => delivery,
            // Without its metadata the message cannot be settled; it is delivered again.
            Err(error) => {
                return tracing::warn!(work = %self.spec.name, %error, "message without metadata")
            }
        };
        let span = tracing::info_span!("work.handle", work = %self.spec.name,
            sequence = delivery.stream_sequence(), delivered = delivery.delivered());
        if let Some(headers) = delivery.headers() {
            set_parent_from(&span, extract_nats(headers));
        }
        async {
            let work = AssertUnwindSafe(self.handler.handle(&delivery)).catch_unwind();
            tokio::pin!(work);
            let mut progress = tokio::time::interval(self.spec.progress_every);
            progress.tick().await;
            let outcome = loop {
                tokio::select! {
                    outcome = &mut work => break outcome.unwrap_or_else(|panic| {
                        Outcome::Park(format!("the handler panicked: {}", panic_text(panic.as_ref())))
                    }),
                    _ = progress.tick() => {
                        if let Err(error) = delivery.message.ack_with(AckKind::Progress).await {
                            tracing::warn!(%error, "progress notice not sent");
                        }
                    }
                    () = abandon.cancelled() => {
                        self.ack(&delivery, AckKind::Nak(None), "handed back").await;
                        return;
                    }
                }
            };
            self.settle(&delivery, outcome).await;
        }
        .instrument(span)
        .await;
    }

    async fn settle(&self, delivery: &Delivery, outcome: Outcome) {
        let recorded = match outcome {
            Outcome::Done => {
                if let Err(error) = delivery.message.double_ack().await {
                    // Delivered again later; the handler makes the repeat harmless.
                    tracing::warn!(%error, "work done but not acknowledged");
                }
                "done"
            }
            Outcome::Retry(error) => {
                let after = self.spec.backoff.delay(delivery.delivered());
                tracing::warn!(
                    error = format!("{error:#}"),
                    ?after,
                    "work failed; will retry"
                );
                self.ack(delivery, AckKind::Nak(Some(after)), "handed back")
                    .await;
                "retry"
            }
            Outcome::Park(reason) => {
                let spec = &self.spec;
                match park(&self.pool, &spec.name, &spec.stream, delivery, &reason).await {
                    Ok(()) => {
                        tracing::error!(%reason, subject = delivery.subject(), "message parked");
                        self.ack(delivery, AckKind::Term, "terminated").await;
                        "parked"
                    }
                    Err(error) => {
                        tracing::warn!(%error, %reason, "message not parked; will retry");
                        let after = spec.backoff.delay(delivery.delivered());
                        self.ack(delivery, AckKind::Nak(Some(after)), "handed back")
                            .await;
                        "retry"
                    }
                }
            }
        };
        self.metrics
            .work_outcomes
            .get_or_create(&WorkLabels {
                work: self.spec.name.clone(),
                outcome: recorded.to_owned(),
            })
            .inc();
    }

    async fn ack(&self, delivery: &Delivery, kind: AckKind, what: &str) {
        if let Err(error) = delivery.message.ack_with(kind).await {
            tracing::warn!(%error, "message not {what}; it is delivered again after ack_wait");
        }
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}
