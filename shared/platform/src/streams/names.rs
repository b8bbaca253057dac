//! Names of streams, subject roots and buckets, with a prefix variant so tests and benchmarks
//! can run side by side on one server without touching production names.

/// Stream names, subject roots and bucket names. `default()` is production; `with_prefix`
/// isolates a test or benchmark on a shared server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamNames {
    pub events: String,
    /// Events live on `<events_root>.<service>.<aggregate>.<id>`.
    pub events_root: String,
    pub metrics: String,
    pub metrics_root: String,
    pub dispatch: String,
    pub dispatch_root: String,
    /// Workers' reports to the scheduler (work queue).
    pub reports: String,
    pub reports_root: String,
    /// Core NATS subjects (no stream): heartbeats and worker registration.
    pub heartbeat_root: String,
    pub register_root: String,
    /// Prepended to `datasets`, `checkpoints` and `models`.
    pub bucket_prefix: String,
}

impl Default for StreamNames {
    fn default() -> Self {
        Self {
            events: "EVENTS".into(),
            events_root: "evt".into(),
            metrics: "METRICS".into(),
            metrics_root: "metrics".into(),
            dispatch: "DISPATCH".into(),
            dispatch_root: "dispatch".into(),
            reports: "REPORTS".into(),
            reports_root: "report".into(),
            heartbeat_root: "hb".into(),
            register_root: "worker.register".into(),
            bucket_prefix: String::new(),
        }
    }
}

impl StreamNames {
    /// Names that cannot collide with production or with another prefix, e.g. `T1_EVENTS` on
    /// `T1.evt.>` and bucket `T1_models`. The prefix must be a valid subject token.
    pub fn with_prefix(prefix: &str) -> Self {
        let base = Self::default();
        Self {
            events: format!("{prefix}_{}", base.events),
            events_root: format!("{prefix}.{}", base.events_root),
            metrics: format!("{prefix}_{}", base.metrics),
            metrics_root: format!("{prefix}.{}", base.metrics_root),
            dispatch: format!("{prefix}_{}", base.dispatch),
            dispatch_root: format!("{prefix}.{}", base.dispatch_root),
            reports: format!("{prefix}_{}", base.reports),
            reports_root: format!("{prefix}.{}", base.reports_root),
            heartbeat_root: format!("{prefix}.{}", base.heartbeat_root),
            register_root: format!("{prefix}.{}", base.register_root),
            bucket_prefix: format!("{prefix}_"),
        }
    }

    pub fn bucket(&self, bucket: Bucket) -> String {
        format!("{}{}", self.bucket_prefix, bucket.name())
    }

    /// The work queue of one target machine's worker: `dispatch.<machine_id>`.
    pub fn dispatch_subject(&self, machine: impl std::fmt::Display) -> String {
        format!("{}.{machine}", self.dispatch_root)
    }

    /// A worker's reports on one process: `report.<machine_id>.<process_id>`.
    pub fn report_subject(
        &self,
        machine: impl std::fmt::Display,
        process: impl std::fmt::Display,
    ) -> String {
        format!("{}.{machine}.{process}", self.reports_root)
    }

    /// Metric points of one process from one machine: `metrics.<machine_id>.<process_id>`.
    pub fn metrics_subject(
        &self,
        machine: impl std::fmt::Display,
        process: impl std::fmt::Display,
    ) -> String {
        format!("{}.{machine}.{process}", self.metrics_root)
    }

    /// Every metric point of one process, whichever machine sent it.
    pub fn metrics_filter(&self, process: impl std::fmt::Display) -> String {
        format!("{}.*.{process}", self.metrics_root)
    }

    /// A worker's heartbeats: `hb.<machine_id>` (core NATS).
    pub fn heartbeat_subject(&self, machine: impl std::fmt::Display) -> String {
        format!("{}.{machine}", self.heartbeat_root)
    }

    /// Where a worker registers: `worker.register.<machine_id>` (core NATS request/reply).
    pub fn register_subject(&self, machine: impl std::fmt::Display) -> String {
        format!("{}.{machine}", self.register_root)
    }
}

/// The object store buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Datasets,
    Checkpoints,
    Models,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Datasets, Bucket::Checkpoints, Bucket::Models];

    pub fn name(self) -> &'static str {
        match self {
            Bucket::Datasets => "datasets",
            Bucket::Checkpoints => "checkpoints",
            Bucket::Models => "models",
        }
    }
}
