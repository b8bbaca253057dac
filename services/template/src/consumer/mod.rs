//! Work driven by the event log rather than by requests: the dataset validator, a durable
//! JetStream consumer that takes each uploaded dataset version to `ready` or `invalid`.

pub mod validation;

pub use validation::{start_validator, DURABLE};
