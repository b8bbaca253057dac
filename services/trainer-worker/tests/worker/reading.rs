//! Reading back what the worker published: its reports (in order, per process), its metric
//! points and stored objects.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, Consumer};
use futures::StreamExt;
use trainyard_core::contracts::dispatch::ObjectRef;
use trainyard_core::contracts::metric::MetricPoint;
use trainyard_core::contracts::report::{ReportBody, WorkerReport};
use trainyard_core::TrainingProcessId;
use trainyard_platform::object_store::Blobs;
use uuid::Uuid;

use crate::helpers::{Env, WAIT};

impl Env {
    /// The reports of `process` (one consumer per process, as the stream is a work queue).
    async fn report_consumer(&self, process: TrainingProcessId) -> Consumer<pull::Config> {
        self.js
            .get_stream(&self.names.reports)
            .await
            .unwrap()
            .get_or_create_consumer(
                &format!("test-{process}"),
                pull::Config {
                    durable_name: Some(format!("test-{process}")),
                    filter_subject: self.names.report_subject(self.machine, process),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// Reports of `process`, in order, until one matches `last`.
    pub async fn reports_until(
        &self,
        process: TrainingProcessId,
        last: impl Fn(&ReportBody) -> bool,
    ) -> Vec<WorkerReport> {
        self.reports_within(process, WAIT, last).await
    }

    /// [`Env::reports_until`], waiting at most `wait` in all.
    pub async fn reports_within(
        &self,
        process: TrainingProcessId,
        wait: Duration,
        last: impl Fn(&ReportBody) -> bool,
    ) -> Vec<WorkerReport> {
        let consumer = self.report_consumer(process).await;
        let mut messages = consumer.messages().await.unwrap();
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = tokio::time::timeout_at(deadline, messages.next())
                .await
                .unwrap_or_else(|_| panic!("no awaited report; got {:#?}", bodies(&seen)))
                .unwrap()
                .unwrap();
            let report: WorkerReport = serde_json::from_slice(&message.payload).unwrap();
            message.double_ack().await.unwrap();
            let done = last(&report.body);
            seen.push(report);
            if done {
                return seen;
            }
        }
    }

    /// Reports of `process` waiting in the stream now.
    pub async fn pending_reports(&self, process: TrainingProcessId) -> u64 {
        let mut consumer = self.report_consumer(process).await;
        consumer.info().await.unwrap().num_pending
    }

    /// Every metric point of `process` stored so far.
    pub async fn points(&self, process: TrainingProcessId) -> Vec<MetricPoint> {
        let consumer = self
            .js
            .get_stream(&self.names.metrics)
            .await
            .unwrap()
            .create_consumer(pull::Config {
                filter_subject: self.names.metrics_filter(process),
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut points = Vec::new();
        let mut batch = consumer
            .fetch()
            .max_messages(100_000)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap();
        while let Some(Ok(message)) = batch.next().await {
            points.push(serde_json::from_slice(&message.payload).unwrap());
        }
        points
    }

    pub async fn download(&self, blobs: &Blobs, object: &ObjectRef) -> Vec<u8> {
        let path = self
            .work
            .path()
            .join(format!("download-{}", Uuid::now_v7()));
        blobs
            .get_to_file(&object.object, &path, Some(&object.sha256))
            .await
            .unwrap();
        std::fs::read(path).unwrap()
    }
}

pub fn bodies(reports: &[WorkerReport]) -> Vec<&ReportBody> {
    reports.iter().map(|r| &r.body).collect()
}

pub fn is_final(body: &ReportBody) -> bool {
    matches!(
        body,
        ReportBody::Succeeded(_) | ReportBody::Failed(_) | ReportBody::Stopped { .. }
    )
}
