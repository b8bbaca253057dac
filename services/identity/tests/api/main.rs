//! Black-box tests of the identity service over HTTP, against a real NATS and PostgreSQL.

mod account_rights;
mod administrators;
mod audit;
mod helpers;
mod key_encryption;
mod live_rights;
mod matrix;
mod secrets;
mod throttling;
mod tokens;
