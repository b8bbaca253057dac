//! Black-box tests of the identity service over HTTP, against a real NATS and PostgreSQL.

mod audit;
mod helpers;
mod matrix;
mod secrets;
mod tokens;
