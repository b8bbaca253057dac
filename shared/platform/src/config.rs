//! Service configuration: typed, layered and validated once at start-up.
//!
//! Layers, later ones winning: the service type's `Default` → an optional TOML file (named by
//! `--config <path>` or `TRAINYARD_CONFIG`) → environment variables with the `TRAINYARD_` prefix,
//! where `__` nests (`TRAINYARD_POSTGRES__URL` sets `postgres.url`). The shared sections
//! ([`CommonConfig`]: `nats`, `postgres`, `http`, `telemetry`) are top-level and read by every
//! service; a service's own keys live in its namespace, a table named after it
//! ([`ServiceConfig::NAMESPACE`]): `[template.datasets]` in the file,
//! `TRAINYARD_TEMPLATE__DATASETS__WORK_DIR` in the environment. So one file and one environment
//! configure every service of the single-process binary without collisions.
//! `docs/configuration.md` lists every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Prefix of every environment variable read as configuration.
pub const ENV_PREFIX: &str = "TRAINYARD_";
/// Environment variable naming the TOML file (the `--config` flag wins over it).
pub const CONFIG_FILE_ENV: &str = "TRAINYARD_CONFIG";

/// Why configuration could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A layer could not be read or a value has the wrong type; figment names the key and source.
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    /// The file named by `--config`/`TRAINYARD_CONFIG` does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// `--config` was given without a path.
    #[error("--config needs a path")]
    MissingFlagValue,
    /// A value parsed but breaks a rule.
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// NATS connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsConfig {
    pub url: String,
    /// JetStream stream holding the event log.
    pub events_stream: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            events_stream: "EVENTS".into(),
        }
    }
}

/// PostgreSQL connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    pub url: String,
    pub pool_size: usize,
    /// Seconds to wait for a connection before a request fails with 503.
    pub connect_timeout_secs: u64,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/trainyard".into(),
            pool_size: 16,
            connect_timeout_secs: 5,
        }
    }
}

impl PostgresConfig {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }
}

/// HTTP listener settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Seconds a handler may take before the request is answered with 503 `timeout`.
    pub request_timeout_secs: u64,
    /// Projection lag (events) above which `/readyz` reports not ready.
    pub max_projection_lag: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 30,
            max_projection_lag: 1000,
        }
    }
}

impl HttpConfig {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

/// Logging and tracing settings. OTLP export is switched by `OTEL_EXPORTER_OTLP_ENDPOINT`, the
/// standard variable, so collectors configured for other software work unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TelemetryConfig {
    /// `EnvFilter` directives used when `RUST_LOG` is unset.
    pub log_filter: String,
    /// JSON lines (default) or human-readable text.
    pub json_logs: bool,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            log_filter: "info".into(),
            json_logs: true,
        }
    }
}

/// The sections every service shares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CommonConfig {
    pub nats: NatsConfig,
    pub postgres: PostgresConfig,
    pub http: HttpConfig,
    pub telemetry: TelemetryConfig,
}

impl CommonConfig {
    /// Checks the shared sections; called by [`load`] before the service's own rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nats = &self.nats.url;
        let schemes = ["nats://", "tls://", "ws://", "wss://"];
        if !schemes.iter().any(|s| nats.starts_with(s)) {
            return Err(ConfigError::invalid(
                "nats.url",
                format!("`{nats}` must start with one of {schemes:?}"),
            ));
        }
        if self.nats.events_stream.is_empty() {
            return Err(ConfigError::invalid(
                "nats.events_stream",
                "must not be empty",
            ));
        }
        tokio_postgres::Config::from_str(&self.postgres.url)
            .map_err(|e| ConfigError::invalid("postgres.url", e.to_string()))?;
        if self.postgres.pool_size == 0 {
            return Err(ConfigError::invalid(
                "postgres.pool_size",
                "must be at least 1",
            ));
        }
        if self.http.request_timeout_secs == 0 {
            return Err(ConfigError::invalid(
                "http.request_timeout_secs",
                "must be at least 1",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_filter)
            .map_err(|e| ConfigError::invalid("telemetry.log_filter", e.to_string()))?;
        Ok(())
    }
}

/// Names no namespace may take: the shared sections and the file-naming variable.
pub const RESERVED_NAMESPACES: &[&str] = &["nats", "postgres", "http", "telemetry", "config"];

/// A service's own keys, in the table [`ServiceConfig::NAMESPACE`] next to the shared sections.
/// Extracted separately from [`CommonConfig`] rather than flattened into it, because flattening
/// loses which key and layer a bad value came from.
pub trait ServiceConfig: Serialize + DeserializeOwned + Default {
    /// The service's table: lowercase, one word, not one of [`RESERVED_NAMESPACES`]. Empty
    /// means top-level keys (only for services that have not moved into a namespace yet).
    const NAMESPACE: &'static str = "";

    /// The service's own rules, checked after the shared ones.
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// For services without keys of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoServiceKeys {}

impl ServiceConfig for NoServiceKeys {}

/// A loaded configuration: the shared sections and the service's own keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Config<S> {
    pub common: CommonConfig,
    pub service: S,
}

/// Loads the configuration from the process's arguments (`--config`) and environment.
pub fn load<S: ServiceConfig>() -> Result<Config<S>, ConfigError> {
    let flag = config_flag(std::env::args().skip(1))?;
    let file = flag.or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from));
    load_from(file.as_deref())
}

/// Loads the configuration with an explicit file layer (none: defaults and environment only).
pub fn load_from<S: ServiceConfig>(file: Option<&Path>) -> Result<Config<S>, ConfigError> {
    let namespace = S::NAMESPACE;
    if RESERVED_NAMESPACES.contains(&namespace) || namespace.contains(['.', '_', ' ']) {
        return Err(ConfigError::invalid(namespace, "is not a usable namespace"));
    }
    let defaults = if namespace.is_empty() {
        Serialized::defaults(S::default())
    } else {
        Serialized::default(namespace, S::default())
    };
    let mut figment = Figment::from(Serialized::defaults(CommonConfig::default())).merge(defaults);
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::MissingFile(path.to_owned()));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    // `TRAINYARD_CONFIG` names the file; it is not a key.
    let figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]));
    let common: CommonConfig = figment.extract().map_err(Box::new)?;
    common.validate()?;
    let service: S = if namespace.is_empty() {
        figment.extract()
    } else {
        figment.extract_inner(namespace)
    }
    .map_err(Box::new)?;
    service.validate().map_err(|error| match error {
        ConfigError::Invalid { key, reason } if !namespace.is_empty() => ConfigError::Invalid {
            key: format!("{namespace}.{key}"),
            reason,
        },
        other => other,
    })?;
    Ok(Config { common, service })
}

/// Finds `--config <path>` or `--config=<path>` among command-line arguments.
pub fn config_flag(args: impl IntoIterator<Item = String>) -> Result<Option<PathBuf>, ConfigError> {
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args
                .next()
                .map(|p| Some(PathBuf::from(p)))
                .ok_or(ConfigError::MissingFlagValue);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Ok(Some(PathBuf::from(path)));
        }
    }
    Ok(None)
}
