//! The crate's single error type: everything that can go wrong reading, writing or running an
//! ONNX model.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = OnnxError> = std::result::Result<T, E>;

/// Errors of the ONNX writer and of the ONNX Runtime wrapper.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// A model file could not be read or written.
    #[error("ONNX model file {path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a protobuf-encoded ONNX `ModelProto`.
    #[error("not a valid ONNX model ({origin}): {source}")]
    Decode {
        /// Where the bytes came from (a path, or "memory").
        origin: String,
        /// Underlying protobuf error.
        #[source]
        source: prost::DecodeError,
    },
    /// The bytes decode but the model lacks something every ONNX model must have.
    #[error("invalid ONNX model ({origin}): {reason}")]
    Invalid {
        /// Where the model came from.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The graph under construction was used inconsistently (unknown value, duplicate name,
    /// tensor data that does not match its shape).
    #[error("ONNX graph construction: {0}")]
    Graph(String),
    /// The ONNX Runtime shared library could not be found or loaded.
    #[error(
        "cannot load ONNX Runtime from {path} (set ORT_DYLIB_PATH to libonnxruntime.so): {reason}"
    )]
    RuntimeLoad {
        /// Library path that was tried.
        path: String,
        /// Why loading failed.
        reason: String,
    },
    /// ONNX Runtime rejected a session or a run.
    #[error("ONNX Runtime: {context}: {message}")]
    Runtime {
        /// What was being done.
        context: String,
        /// The runtime's own message.
        message: String,
    },
    /// Input data does not fit the model or the given shape.
    #[error("bad inference input: {0}")]
    Input(String),
}
