//! The trainer-worker against a real NATS server: orders published on its dispatch queue as the
//! scheduler would, reports and metric points read back from their streams, models checked with
//! ONNX Runtime. Training is real, on a few synthetic pages, with one thread.

mod binary;
mod failures;
mod helpers;
mod reading;
mod registration;
mod run;
mod stop;
mod time_left;
