//! Trainyard's training engine: datasets ([`data`]), augmentation ([`augment`]), the model zoo
//! ([`model`]), the training loop with checkpoints ([`train`]), verified ONNX export
//! ([`export`]), a document-like data generator ([`synth`]) and training-curve plots ([`plot`]).
//!
//! What a trainer-worker calls, in order:
//! 1. [`data::validate`] to check an upload without training (a [`data::DatasetStats`] or a
//!    [`data::DatasetError`] with a stable `code()` and the offending `path()`), and
//!    [`data::load`] to get a [`data::Dataset`] (decoded once, cached by content digest);
//! 2. [`train::train`] with a [`train::TrainConfig`], [`train::RunOptions`] (checkpoint folder,
//!    `resume`, `init_from`, a [`train::StopToken`]) and a callback receiving
//!    [`train::Progress`] events; it returns the trained model and a [`train::Summary`];
//! 3. [`export::export_and_verify`] to write `model.onnx` and get a
//!    [`export::VerificationReport`] (ONNX Runtime against libtorch on the test images).
//!
//! Binaries and tests that link this crate need the link arguments described in [`linking`].

pub mod augment;
pub mod data;
pub mod export;
pub mod linking;
pub mod model;
pub mod plot;
pub mod rng;
pub mod synth;
pub mod train;
