//! The template service's configuration: the shared sections plus token verification and dataset
//! limits. See `trainyard_platform::config` for how layers combine.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trainyard_engine::data::Limits;
use trainyard_platform::config::{CommonConfig, Config, ConfigError, ServiceConfig};

/// Where access tokens come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    /// `iss` of accepted tokens.
    pub issuer: String,
    /// Identity's JWKS endpoint; keys are fetched at start-up and on an unknown key id.
    pub jwks_url: String,
    /// Longest access-token lifetime identity issues: how far back revocations are read at
    /// start-up so that a token revoked before this service started is still refused.
    pub max_token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "trainyard-identity".into(),
            jwks_url: "http://127.0.0.1:8080/api/v1/auth/jwks".into(),
            max_token_ttl_secs: 15 * 60,
        }
    }
}

/// Upload and validation limits for datasets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetConfig {
    /// Largest accepted archive, in bytes; a larger upload is refused with 413 and stores nothing.
    /// An upload may take longer than `http.request_timeout_secs` (the upload route lifts that
    /// limit once it has accepted the request); instead, a client that sends nothing for that
    /// long is refused with 400 `upload_stalled`.
    pub max_upload_bytes: u64,
    /// Largest inflated content of an archive, in bytes.
    pub max_inflated_bytes: u64,
    /// Highest compression ratio accepted for large entries (decompression bombs).
    pub max_zip_ratio: u64,
    /// Largest decoded image, in pixels.
    pub max_pixels: u64,
    /// Folder for uploads in progress and validation work; the system temp folder by default.
    pub work_dir: Option<PathBuf>,
    /// Versions validated at once.
    pub validation_concurrency: usize,
    /// A resumable upload that receives nothing for this long is removed.
    pub upload_ttl_secs: u64,
    /// Resumable uploads open at once on this instance (each may hold up to
    /// `max_upload_bytes` of the work folder).
    pub max_open_uploads: usize,
}

impl Default for DatasetConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 2 << 30,
            max_inflated_bytes: 8 << 30,
            max_zip_ratio: 100,
            max_pixels: 64 << 20,
            work_dir: None,
            validation_concurrency: 1,
            upload_ttl_secs: 24 * 60 * 60,
            max_open_uploads: 16,
        }
    }
}

impl DatasetConfig {
    pub fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    pub fn upload_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.upload_ttl_secs)
    }

    /// The engine's safety limits for reading an uploaded archive under this configuration.
    pub fn engine_limits(&self) -> Limits {
        let defaults = Limits::default();
        Limits {
            max_pixels: self.max_pixels,
            max_entry_bytes: defaults.max_entry_bytes.min(self.max_inflated_bytes),
            max_total_bytes: self.max_inflated_bytes,
            max_zip_ratio: self.max_zip_ratio,
            ratio_check_min_bytes: defaults.ratio_check_min_bytes,
        }
    }
}

/// Limits for the initial weights uploaded to base models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaseModelConfig {
    /// Largest accepted safetensors file, in bytes; a larger upload is refused with 413 and
    /// stores nothing. The file is loaded into memory to be checked.
    pub max_weights_bytes: u64,
}

impl Default for BaseModelConfig {
    fn default() -> Self {
        Self {
            max_weights_bytes: 512 << 20,
        }
    }
}

/// The template service's own top-level keys, next to the shared sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TemplateKeys {
    pub auth: AuthConfig,
    pub datasets: DatasetConfig,
    pub base_models: BaseModelConfig,
}

/// The whole configuration: shared sections plus the template service's keys.
pub type TemplateConfig = Config<TemplateKeys>;

/// Defaults for every section (what an empty file and environment give).
pub fn default_config() -> TemplateConfig {
    Config {
        common: CommonConfig::default(),
        service: TemplateKeys::default(),
    }
}

impl ServiceConfig for TemplateKeys {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.datasets.max_upload_bytes == 0 {
            return Err(ConfigError::invalid(
                "datasets.max_upload_bytes",
                "must be at least 1",
            ));
        }
        if self.base_models.max_weights_bytes == 0 {
            return Err(ConfigError::invalid(
                "base_models.max_weights_bytes",
                "must be at least 1",
            ));
        }
        if self.datasets.validation_concurrency == 0 {
            return Err(ConfigError::invalid(
                "datasets.validation_concurrency",
                "must be at least 1",
            ));
        }
        if self.datasets.upload_ttl_secs == 0 {
            return Err(ConfigError::invalid(
                "datasets.upload_ttl_secs",
                "must be at least 1",
            ));
        }
        if self.datasets.max_open_uploads == 0 {
            return Err(ConfigError::invalid(
                "datasets.max_open_uploads",
                "must be at least 1",
            ));
        }
        if self.auth.issuer.is_empty() {
            return Err(ConfigError::invalid("auth.issuer", "must not be empty"));
        }
        Ok(())
    }
}
