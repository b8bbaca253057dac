//! Configuration layering: defaults < TOML file < `TRAINYARD_` environment, with `__` nesting,
//! each service's keys in its own namespace next to the shared sections, and validation errors
//! that name the key.

// figment's `Jail` closures must return `figment::Error` by value; its size is figment's choice.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use figment::Jail;
use serde::{Deserialize, Serialize};
use trainyard_platform::config::{
    config_flag, load_from, Config, ConfigError, NoServiceKeys, ServiceConfig,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct SchedulerKeys {
    heartbeat_timeout_secs: u64,
}

impl Default for SchedulerKeys {
    fn default() -> Self {
        Self {
            heartbeat_timeout_secs: 15,
        }
    }
}

type SchedulerConfig = Config<SchedulerKeys>;

impl ServiceConfig for SchedulerKeys {
    const NAMESPACE: &'static str = "scheduler";

    fn validate(&self) -> Result<(), ConfigError> {
        if self.heartbeat_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "heartbeat_timeout_secs",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

fn figment_error(e: ConfigError) -> figment::Error {
    figment::Error::from(e.to_string())
}

#[test]
fn defaults_then_file_then_environment() {
    Jail::expect_with(|jail| {
        let defaults: SchedulerConfig = load_from(None).map_err(figment_error)?;
        assert_eq!(
            defaults.common.http.addr,
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(defaults.common.nats.events_stream, "EVENTS");
        assert_eq!(defaults.service.heartbeat_timeout_secs, 15);

        jail.create_file(
            "trainyard.toml",
            r#"
            [scheduler]
            heartbeat_timeout_secs = 30
            [nats]
            url = "nats://file:4222"
            [http]
            addr = "0.0.0.0:9000"
            [postgres]
            pool_size = 4
            "#,
        )?;
        let path = jail.directory().join("trainyard.toml");
        let from_file: SchedulerConfig = load_from(Some(&path)).map_err(figment_error)?;
        assert_eq!(from_file.common.nats.url, "nats://file:4222");
        assert_eq!(
            from_file.common.http.addr,
            "0.0.0.0:9000".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(from_file.common.postgres.pool_size, 4);
        assert_eq!(from_file.service.heartbeat_timeout_secs, 30);
        assert_eq!(
            from_file.common.telemetry.log_filter, "info",
            "untouched keys keep defaults"
        );

        jail.set_env("TRAINYARD_NATS__URL", "nats://env:4222");
        jail.set_env("TRAINYARD_SCHEDULER__HEARTBEAT_TIMEOUT_SECS", "45");
        jail.set_env("TRAINYARD_TELEMETRY__LOG_FILTER", "debug,hyper=warn");
        let layered: SchedulerConfig = load_from(Some(&path)).map_err(figment_error)?;
        assert_eq!(
            layered.common.nats.url, "nats://env:4222",
            "environment beats the file"
        );
        assert_eq!(layered.service.heartbeat_timeout_secs, 45);
        assert_eq!(layered.common.telemetry.log_filter, "debug,hyper=warn");
        assert_eq!(layered.common.http.addr.port(), 9000, "file beats defaults");
        assert_eq!(layered.common.postgres.pool_size, 4);
        Ok(())
    });
}

#[test]
fn invalid_values_are_reported_with_their_key() {
    Jail::expect_with(|jail| {
        jail.set_env("TRAINYARD_HTTP__ADDR", "not-an-address");
        let error = load_from::<SchedulerKeys>(None).unwrap_err().to_string();
        assert!(
            error.to_lowercase().contains("http.addr") && error.contains("TRAINYARD_"),
            "{error}"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("TRAINYARD_SCHEDULER__HEARTBEAT_TIMEOUT_SECS", "soon");
        let error = load_from::<SchedulerKeys>(None).unwrap_err().to_string();
        assert!(
            error.to_lowercase().contains("heartbeat_timeout_secs") && error.contains("TRAINYARD_"),
            "{error}"
        );
        Ok(())
    });
    Jail::expect_with(|_| {
        let plain = load_from::<NoServiceKeys>(None).map_err(figment_error)?;
        assert_eq!(plain.common.http.addr.port(), 8080);
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("TRAINYARD_NATS__URL", "http://wrong");
        let error = load_from::<SchedulerKeys>(None).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { key, .. } if key == "nats.url"),
            "{error}"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.set_env("TRAINYARD_SCHEDULER__HEARTBEAT_TIMEOUT_SECS", "0");
        let error = load_from::<SchedulerKeys>(None).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Invalid { key, .. } if key == "scheduler.heartbeat_timeout_secs"),
            "{error}"
        );
        Ok(())
    });
    Jail::expect_with(|jail| {
        let missing = jail.directory().join("absent.toml");
        let error = load_from::<SchedulerKeys>(Some(&missing)).unwrap_err();
        assert!(matches!(error, ConfigError::MissingFile(_)));
        Ok(())
    });
}

/// A second service with a key of the same name, as in the single-process binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
struct WorkerKeys {
    heartbeat_timeout_secs: u64,
}

impl Default for WorkerKeys {
    fn default() -> Self {
        Self {
            heartbeat_timeout_secs: 5,
        }
    }
}

impl ServiceConfig for WorkerKeys {
    const NAMESPACE: &'static str = "worker";
}

#[test]
fn services_read_only_their_namespace() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "trainyard.toml",
            "heartbeat_timeout_secs = 99\n[scheduler]\nheartbeat_timeout_secs = 30\n",
        )?;
        jail.set_env("TRAINYARD_WORKER__HEARTBEAT_TIMEOUT_SECS", "7");
        let path = jail.directory().join("trainyard.toml");
        let scheduler: SchedulerConfig = load_from(Some(&path)).map_err(figment_error)?;
        let worker: Config<WorkerKeys> = load_from(Some(&path)).map_err(figment_error)?;
        assert_eq!(scheduler.service.heartbeat_timeout_secs, 30);
        assert_eq!(worker.service.heartbeat_timeout_secs, 7);
        Ok(())
    });
}

#[test]
fn config_flag_forms() {
    let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        config_flag(args(&["--config", "a.toml"]))
            .unwrap()
            .unwrap()
            .to_str(),
        Some("a.toml")
    );
    assert_eq!(
        config_flag(args(&["-v", "--config=b.toml"]))
            .unwrap()
            .unwrap()
            .to_str(),
        Some("b.toml")
    );
    assert!(config_flag(args(&["serve"])).unwrap().is_none());
    assert!(matches!(
        config_flag(args(&["--config"])),
        Err(ConfigError::MissingFlagValue)
    ));
}
