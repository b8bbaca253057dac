//! The worker's configuration: the shared sections (only `nats` and `telemetry` are used) plus
//! its namespace `[worker]`, set in TOML or as `TRAINYARD_WORKER__<KEY>` (see
//! `trainyard_platform::config` for how layers combine).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use trainyard_core::TargetMachineId;
use trainyard_platform::config::{Config, ConfigError, ServiceConfig};

/// The worker binary's whole configuration.
pub type WorkerFileConfig = Config<WorkerConfig>;

/// The `[worker]` section.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The target machine this worker trains for (its id in the scheduler).
    pub machine_id: Option<TargetMachineId>,
    /// A service account's API key; or name a file holding it with `api_key_file`.
    pub api_key: Option<String>,
    pub api_key_file: Option<PathBuf>,
    /// Dataset cache, checkpoints and export files live here. It belongs to one worker.
    pub work_dir: PathBuf,
    /// Most bytes the dataset cache (archives and their decoded tensors) may hold.
    pub dataset_cache_bytes: u64,
    /// libtorch threads; the machine's cores by default. A template's `workers` caps it further.
    pub threads: Option<usize>,
    /// Seconds between heartbeats when the scheduler's answer does not set them.
    pub heartbeat_interval_secs: u32,
    /// Least time between two progress reports of a run, in milliseconds.
    pub progress_period_ms: u64,
    /// Pause before registering again after a refusal, in milliseconds.
    pub refused_retry_ms: u64,
    /// Test images stored with a model as verification samples (at most).
    pub verification_samples: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            machine_id: None,
            api_key: None,
            api_key_file: None,
            work_dir: std::env::temp_dir().join("trainyard-worker"),
            dataset_cache_bytes: 20 << 30,
            threads: None,
            heartbeat_interval_secs: 5,
            progress_period_ms: 1000,
            refused_retry_ms: 30_000,
            verification_samples: 64,
        }
    }
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("machine_id", &self.machine_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_key_file", &self.api_key_file)
            .field("work_dir", &self.work_dir)
            .field("dataset_cache_bytes", &self.dataset_cache_bytes)
            .field("threads", &self.threads)
            .field("heartbeat_interval_secs", &self.heartbeat_interval_secs)
            .field("progress_period_ms", &self.progress_period_ms)
            .field("refused_retry_ms", &self.refused_retry_ms)
            .field("verification_samples", &self.verification_samples)
            .finish()
    }
}

impl ServiceConfig for WorkerConfig {
    const NAMESPACE: &'static str = "worker";

    /// The rules every value must keep (keys named within the namespace; the loader prefixes
    /// `worker.`). The machine and the key may still be missing here: the one-process binary
    /// sets them for its local worker. [`WorkerConfig::check`] requires them too.
    fn validate(&self) -> Result<(), ConfigError> {
        self.check_values()
    }
}

impl WorkerConfig {
    /// A configuration for `machine` with its API key, everything else at defaults (the
    /// one-process binary builds its local worker this way).
    pub fn new(machine: TargetMachineId, api_key: impl Into<String>, work_dir: &Path) -> Self {
        Self {
            machine_id: Some(machine),
            api_key: Some(api_key.into()),
            work_dir: work_dir.to_owned(),
            ..Self::default()
        }
    }

    /// Everything a worker needs to start: the values' rules, a machine and a key.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.machine_id.is_none() {
            return Err(ConfigError::invalid(
                "worker.machine_id",
                "is required: the id of the target machine in the scheduler",
            ));
        }
        if self.api_key.is_none() && self.api_key_file.is_none() {
            return Err(ConfigError::invalid(
                "worker.api_key",
                "is required (or `worker.api_key_file`): a service account's API key",
            ));
        }
        self.check_values().map_err(|error| match error {
            ConfigError::Invalid { key, reason } => ConfigError::Invalid {
                key: format!("{}.{key}", Self::NAMESPACE),
                reason,
            },
            other => other,
        })
    }

    fn check_values(&self) -> Result<(), ConfigError> {
        match (&self.api_key, &self.api_key_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "api_key",
                    "set either `api_key` or `api_key_file`, not both",
                ))
            }
            (_, Some(path)) => {
                self.read_key_file(path)?;
            }
            (Some(key), None) if key.trim().is_empty() => {
                return Err(ConfigError::invalid("api_key", "must not be empty"))
            }
            _ => {}
        }
        let positive = [
            ("dataset_cache_bytes", self.dataset_cache_bytes),
            (
                "heartbeat_interval_secs",
                u64::from(self.heartbeat_interval_secs),
            ),
            ("progress_period_ms", self.progress_period_ms),
            ("refused_retry_ms", self.refused_retry_ms),
            ("verification_samples", self.verification_samples as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if self.threads == Some(0) {
            return Err(ConfigError::invalid("threads", "must be at least 1"));
        }
        Ok(())
    }

    fn read_key_file(&self, path: &Path) -> Result<String, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::invalid(
                "api_key_file",
                format!("{} cannot be read: {e}", path.display()),
            )
        })?;
        let key = text.trim().to_owned();
        if key.is_empty() {
            return Err(ConfigError::invalid(
                "api_key_file",
                format!("{} is empty", path.display()),
            ));
        }
        Ok(key)
    }

    /// The machine id (checked present by [`WorkerConfig::check`]).
    pub fn machine(&self) -> Result<TargetMachineId, ConfigError> {
        self.machine_id.ok_or_else(|| {
            ConfigError::invalid("machine_id", "is required: the target machine's id")
        })
    }

    /// The API key, read from `api_key_file` when that is the one set.
    pub fn key(&self) -> Result<String, ConfigError> {
        match (&self.api_key, &self.api_key_file) {
            (Some(key), None) => Ok(key.trim().to_owned()),
            (None, Some(path)) => self.read_key_file(path),
            _ => self.check().map(|()| String::new()),
        }
    }

    /// libtorch threads: the setting, else the cores this process may use.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(cores).max(1)
    }

    /// Where attempts keep their files while they run (emptied when the worker starts).
    pub fn attempts_dir(&self) -> PathBuf {
        self.work_dir.join("attempts")
    }

    /// The dataset cache.
    pub fn datasets_dir(&self) -> PathBuf {
        self.work_dir.join("datasets")
    }

    pub fn progress_period(&self) -> Duration {
        Duration::from_millis(self.progress_period_ms)
    }

    pub fn refused_retry(&self) -> Duration {
        Duration::from_millis(self.refused_retry_ms)
    }
}

/// Logical cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trainyard_platform::config::load_from;

    fn valid() -> WorkerConfig {
        WorkerConfig::new(TargetMachineId::new(), "key", Path::new("/tmp/w"))
    }

    #[test]
    fn a_machine_and_exactly_one_key_source_are_required() {
        assert!(valid().check().is_ok());
        let no_machine = WorkerConfig {
            machine_id: None,
            ..valid()
        };
        assert!(no_machine.check().is_err());
        // Loading leaves them to be set later (the one-process binary's local worker).
        assert!(ServiceConfig::validate(&no_machine).is_ok());
        let no_key = WorkerConfig {
            api_key: None,
            ..valid()
        };
        assert!(no_key.check().is_err());
        let both = WorkerConfig {
            api_key_file: Some("/nonexistent".into()),
            ..valid()
        };
        assert!(both.check().is_err());
        assert!(ServiceConfig::validate(&both).is_err());
    }

    #[test]
    fn the_key_can_come_from_a_file_and_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "secret-key\n").unwrap();
        let config = WorkerConfig {
            api_key: None,
            api_key_file: Some(file),
            ..valid()
        };
        assert!(config.check().is_ok());
        assert_eq!(config.key().unwrap(), "secret-key");
        assert!(!format!("{:?}", valid()).contains("key\""));
        assert!(format!("{:?}", valid()).contains("<redacted>"));
    }

    #[test]
    fn the_section_is_read_from_a_file_in_its_own_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("toml");
        let machine = TargetMachineId::new();
        std::fs::write(
            &file,
            format!("[worker]\nmachine_id = \"{machine}\"\napi_key = \"k\"\nthreads = 3\n"),
        )
        .unwrap();
        let loaded: WorkerFileConfig = load_from(Some(&file)).unwrap();
        assert_eq!(loaded.service.machine_id, Some(machine));
        assert_eq!(loaded.service.threads(), 3);
        assert_eq!(loaded.service.progress_period_ms, 1000);
    }
}
