//! Black-box tests of the template service over HTTP against real NATS and PostgreSQL.

mod catalog;
mod datasets;
mod helpers;
mod matrix;
mod projection;
mod projects;
mod templates;
mod uploads;
