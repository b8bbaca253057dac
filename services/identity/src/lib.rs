//! The identity service: tenants, users, roles and service accounts (event-sourced aggregates in
//! [`domain`]), tokens ([`issue`], [`keyring`]), the REST API ([`http`]), read models and the
//! tamper-evident audit journal ([`projection`]).

pub mod accounts;
pub mod app;
pub mod bootstrap;
pub mod client_address;
pub mod config;
pub mod domain;
mod error;
pub mod guard;
pub mod http;
pub mod issue;
pub mod kek;
pub mod keyring;
pub mod password;
pub mod projection;
pub mod secrets;
pub mod state;
pub mod throttle;
pub mod unique;

pub use app::App;
pub use config::IdentityConfig;
