//! Identity's configuration: the shared sections plus bootstrap, token lifetimes, password
//! hashing cost and login throttling. See `trainyard_platform::config` for how layers combine.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use trainyard_platform::config::{CommonConfig, Config, ConfigError, ServiceConfig};

/// A secret configuration value: read like a string, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The first administrator of an empty installation.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootstrapConfig {
    /// Name of the tenant created first; logins without a tenant go to it.
    pub tenant: String,
    pub admin_login: String,
    /// When absent, a password is generated and printed once to standard output, and must be
    /// changed at first login.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for BootstrapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapConfig")
            .field("tenant", &self.tenant)
            .field("admin_login", &self.admin_login)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        Self {
            tenant: "default".into(),
            admin_login: "admin".into(),
            admin_password: None,
        }
    }
}

/// Token lifetimes, signing-key rotation, and the key-encryption key that seals signing keys at
/// rest (see `kek` and `docs/key-encryption.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    /// `iss` of every token; verifiers accept only this issuer.
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// A new signing key takes over when the active one is older than this.
    pub key_rotation_secs: u64,
    /// File holding the key-encryption key: base64 of 32 random bytes
    /// (`head -c 32 /dev/urandom | base64`). Without one, signing keys are stored unencrypted.
    pub key_encryption_key_file: Option<PathBuf>,
    /// The key-encryption key itself, for the environment
    /// (`TRAINYARD_TOKENS__KEY_ENCRYPTION_KEY`); set this or the file, not both.
    pub key_encryption_key: Option<Secret>,
    /// Key-encryption keys being retired: keys they sealed still open, and are sealed anew with
    /// the current one at start.
    pub retired_key_encryption_key_files: Vec<PathBuf>,
    pub retired_key_encryption_keys: Vec<Secret>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            issuer: "trainyard-identity".into(),
            access_ttl_secs: 15 * 60,
            refresh_ttl_secs: 30 * 24 * 3600,
            key_rotation_secs: 30 * 24 * 3600,
            key_encryption_key_file: None,
            key_encryption_key: None,
            retired_key_encryption_key_files: Vec::new(),
            retired_key_encryption_keys: Vec::new(),
        }
    }
}

/// Argon2id cost. The default is OWASP's minimum recommendation (m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PasswordHashConfig {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    /// Hashes computed at once; each holds `memory_kib` of memory.
    pub max_concurrent: usize,
}

impl Default for PasswordHashConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            max_concurrent: 4,
        }
    }
}

/// Failed-login throttling (see `throttle`): free failures per counter, then delays that double
/// from `first_delay_secs` up to `max_delay_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottleConfig {
    /// Failures of one login from one address before its attempts there wait.
    pub free_failures_per_login_and_address: u32,
    /// Failures from one address, whatever the login, before its attempts wait (logins that
    /// have succeeded from that address before are spared).
    pub free_failures_per_address: u32,
    /// Failures of one login, from whatever address, before its attempts wait (addresses it
    /// has succeeded from before are spared).
    pub free_failures_per_login: u32,
    pub first_delay_secs: u64,
    pub max_delay_secs: u64,
    /// A counter without a failure for this long starts again from zero.
    pub forget_after_secs: u64,
    /// How long a successful login keeps its address known.
    pub known_address_secs: u64,
    /// Peers whose `X-Forwarded-For` is believed: addresses or ranges (`10.0.0.0/8`). Empty:
    /// the header is ignored and the peer's own address counts.
    pub trusted_proxies: Vec<String>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            free_failures_per_login_and_address: 5,
            free_failures_per_address: 50,
            free_failures_per_login: 20,
            first_delay_secs: 1,
            max_delay_secs: 900,
            forget_after_secs: 3600,
            known_address_secs: 30 * 24 * 3600,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Identity's own top-level keys, next to the shared sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentityKeys {
    pub bootstrap: BootstrapConfig,
    pub tokens: TokenConfig,
    pub password_hash: PasswordHashConfig,
    pub throttle: ThrottleConfig,
}

/// The whole configuration: shared sections plus identity's keys.
pub type IdentityConfig = Config<IdentityKeys>;

/// Defaults for every section (what an empty file and environment give).
pub fn default_config() -> IdentityConfig {
    Config {
        common: CommonConfig::default(),
        service: IdentityKeys::default(),
    }
}

impl ServiceConfig for IdentityKeys {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.tokens.access_ttl_secs == 0 || self.tokens.refresh_ttl_secs == 0 {
            return Err(ConfigError::invalid(
                "tokens",
                "lifetimes must be at least 1 second",
            ));
        }
        let tokens = &self.tokens;
        if tokens.key_encryption_key.is_some() && tokens.key_encryption_key_file.is_some() {
            return Err(ConfigError::invalid(
                "tokens.key_encryption_key",
                "set the key-encryption key or its file, not both",
            ));
        }
        let current =
            tokens.key_encryption_key.is_some() || tokens.key_encryption_key_file.is_some();
        let retired = !tokens.retired_key_encryption_keys.is_empty()
            || !tokens.retired_key_encryption_key_files.is_empty();
        if retired && !current {
            return Err(ConfigError::invalid(
                "tokens.retired_key_encryption_keys",
                "retired key-encryption keys need a current one to seal keys anew",
            ));
        }
        if self.password_hash.max_concurrent == 0 {
            return Err(ConfigError::invalid(
                "password_hash.max_concurrent",
                "must be at least 1",
            ));
        }
        if self.throttle.first_delay_secs == 0
            || self.throttle.max_delay_secs < self.throttle.first_delay_secs
        {
            return Err(ConfigError::invalid(
                "throttle.first_delay_secs",
                "must be at least 1 and at most throttle.max_delay_secs",
            ));
        }
        crate::client_address::TrustedProxies::parse(&self.throttle.trusted_proxies)
            .map_err(|reason| ConfigError::invalid("throttle.trusted_proxies", reason))?;
        if let Some(password) = &self.bootstrap.admin_password {
            crate::domain::user::check_password_policy("bootstrap.admin_password", password)
                .map_err(|r| ConfigError::invalid("bootstrap.admin_password", r.message))?;
        }
        Ok(())
    }
}
