//! The template service: projects, model types, base models, datasets and versioned training
//! templates (event-sourced aggregates in [`domain`]), the REST API ([`http`]), read models
//! ([`projection`]) and background dataset validation ([`consumer`]).

pub mod app;
pub mod archive;
pub mod bootstrap;
pub mod config;
pub mod consumer;
pub mod domain;
pub mod http;
pub mod projection;
pub mod state;
pub mod unique;
pub mod uploads;
pub mod weights;

pub use app::App;
pub use config::TemplateConfig;
