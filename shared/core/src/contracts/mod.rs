//! The messages that cross the wire between the scheduler, the trainer-workers, the metrics
//! service and the model registry — one definition each, with JSON Schemas committed in
//! `schemas/contracts/` and snapshot-tested. Field names follow the house style (`eta_secs`,
//! `*_at` for instants); every message carries enough ids to be routed and de-duplicated without
//! context, because each side may restart at any moment.
//!
//! Where each message travels (subject builders live with the stream names in the platform):
//! * [`dispatch::DispatchOrder`] — scheduler → one worker, on the machine's work queue
//!   `dispatch.<machine_id>` (JetStream, work-queue retention).
//! * [`report::WorkerReport`] — worker → scheduler, `report.<machine_id>.<process_id>`
//!   (JetStream, work-queue retention): stages, progress, checkpoints and the outcome.
//! * [`metric::MetricPoint`] — worker → metrics service, `metrics.<machine_id>.<process_id>`
//!   (JetStream, limits retention). The machine is in the subject so a worker's credentials can
//!   be confined to its own machine's subjects.
//! * [`worker::Heartbeat`] — worker → scheduler, core NATS `hb.<machine_id>`, every few seconds.
//! * [`worker::RegisterWorker`] — worker → scheduler, request/reply on
//!   `worker.register.<machine_id>`; the answer is a [`worker::Registration`].
//! * [`model::ModelProduced`] — the payload of the scheduler's `ModelProduced` event in the
//!   event log, built from the worker's `succeeded` report; the registry registers models from it.

pub mod dispatch;
pub mod metric;
pub mod model;
pub mod report;
pub mod worker;

/// Version of the worker ⇄ scheduler protocol. A worker announces the versions it speaks; the
/// scheduler refuses, with a reason, a worker it cannot speak to.
pub const PROTOCOL_VERSION: u32 = 1;

/// Every contract type with its schema file name, for the snapshot test and for documentation.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: schemars::JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(T)).unwrap_or(serde_json::Value::Null)
    }
    vec![
        ("dispatch_order", schema::<dispatch::DispatchOrder>()),
        ("worker_report", schema::<report::WorkerReport>()),
        ("metric_point", schema::<metric::MetricPoint>()),
        ("heartbeat", schema::<worker::Heartbeat>()),
        ("register_worker", schema::<worker::RegisterWorker>()),
        ("registration", schema::<worker::Registration>()),
        ("model_produced", schema::<model::ModelProduced>()),
    ]
}
