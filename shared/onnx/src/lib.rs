//! Trainyard's ONNX support: our own writer for the subset of the ONNX format that exported
//! models need ([`GraphBuilder`] → [`OnnxModel`]), and a thin ONNX Runtime wrapper
//! ([`Session`]) used to verify exports and to serve inference.
//!
//! The protobuf types in [`proto`] are generated from `proto/onnx.proto`, whose field numbers are
//! those of the official format, so files written here load in any ONNX consumer.

mod attribute;
mod builder;
mod error;
mod model;
mod ops;
mod runtime;

/// Protobuf types of the ONNX IR subset (package `onnx`), generated at build time.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use attribute::{Attribute, AttributeValue};
pub use builder::{Dim, GraphBuilder, IR_VERSION, OPSET_VERSION, PRODUCER_NAME};
pub use error::{OnnxError, Result};
pub use model::{Digest, OnnxModel, TensorInfo};
pub use ops::ConvAttrs;
pub use runtime::{ensure_runtime, Session, TensorF32};
