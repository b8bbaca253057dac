//! `Session`: ONNX Runtime inference over `ort`, loading `libonnxruntime.so` at run time
//! (`load-dynamic`) from `ORT_DYLIB_PATH`. The runtime is initialised once per process, on
//! first use; a failed load is retried on the next call so a fixed path can take effect.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use ort::environment::Environment;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::Session as OrtSession;
use ort::value::TensorRef;

use crate::error::{OnnxError, Result};

/// A float tensor as returned by [`Session::run_f32`]: shape and row-major data.
pub type TensorF32 = (Vec<usize>, Vec<f32>);

/// The process-wide ONNX Runtime environment. ONNX Runtime allows only one per process, and
/// `ort` keeps only a weak reference to it, so it is held here for the life of the process.
static RUNTIME: Mutex<Option<Environment>> = Mutex::new(None);

/// Where to load ONNX Runtime from: `ORT_DYLIB_PATH` at run time, else the value it had when
/// this crate was compiled (the workspace's cargo config sets it for builds and tests).
fn dylib_path() -> Option<String> {
    std::env::var("ORT_DYLIB_PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .or_else(|| option_env!("ORT_DYLIB_PATH").map(str::to_owned))
}

/// Loads ONNX Runtime and creates its environment if that has not happened yet. Sessions call
/// this themselves; call it directly to fail fast at start-up.
pub fn ensure_runtime() -> Result<()> {
    environment().map(|_| ())
}

fn environment() -> Result<Environment> {
    let mut guard = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(env) = guard.as_ref() {
        return Ok(env.clone());
    }
    let path = dylib_path().ok_or_else(|| OnnxError::RuntimeLoad {
        path: "(unset)".to_owned(),
        reason: "ORT_DYLIB_PATH is not set".to_owned(),
    })?;
    let load_error = |reason: String| OnnxError::RuntimeLoad {
        path: path.clone(),
        reason,
    };
    // dlopen's message for a missing file is terse; say plainly what is wrong.
    if !Path::new(&path).is_file() {
        return Err(load_error("no such file".to_owned()));
    }
    let env = ort::init_from(&path)
        .map_err(|e| load_error(e.to_string()))?
        .with_name("trainyard")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    *guard = Some(env.clone());
    Ok(env)
}

fn runtime_error(context: &str, error: impl fmt::Display) -> OnnxError {
    OnnxError::Runtime {
        context: context.to_owned(),
        message: error.to_string(),
    }
}

/// An ONNX Runtime inference session on the CPU.
///
/// `ort` needs exclusive access to run a session, so runs from several threads are serialised
/// by a mutex; parallelism comes from the session's intra-op threads.
pub struct Session {
    inner: Mutex<OrtSession>,
    inputs: Vec<String>,
    outputs: Vec<String>,
    metadata: BTreeMap<String, String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Loads a model file, running nodes on `intra_threads` threads.
    pub fn from_file(path: impl AsRef<Path>, intra_threads: usize) -> Result<Self> {
        let path = path.as_ref();
        let session = builder(intra_threads)?
            .commit_from_file(path)
            .map_err(|e| runtime_error(&format!("loading {}", path.display()), e))?;
        Self::wrap(session)
    }

    /// Loads a serialized model, running nodes on `intra_threads` threads.
    pub fn from_bytes(bytes: &[u8], intra_threads: usize) -> Result<Self> {
        let session = builder(intra_threads)?
            .commit_from_memory(bytes)
            .map_err(|e| runtime_error("loading model from memory", e))?;
        Self::wrap(session)
    }

    fn wrap(session: OrtSession) -> Result<Self> {
        let inputs = session
            .inputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        let outputs = session
            .outputs()
            .iter()
            .map(|o| o.name().to_owned())
            .collect();
        let meta = session
            .metadata()
            .map_err(|e| runtime_error("reading model metadata", e))?;
        let keys = meta
            .custom_keys()
            .map_err(|e| runtime_error("reading model metadata", e))?;
        let metadata = keys
            .into_iter()
            .filter_map(|k| meta.custom(&k).map(|v| (k, v)))
            .collect();
        drop(meta);
        Ok(Self {
            inner: Mutex::new(session),
            inputs,
            outputs,
            metadata,
        })
    }

    /// Names of the graph inputs, in graph order.
    pub fn input_names(&self) -> &[String] {
        &self.inputs
    }

    /// Names of the graph outputs, in graph order.
    pub fn output_names(&self) -> &[String] {
        &self.outputs
    }

    /// The model's custom metadata (`metadata_props`) as ONNX Runtime reads it.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Runs the model on one float input tensor (`data` row-major in `shape`) and returns
    /// every output by name.
    pub fn run_f32(
        &self,
        input_name: &str,
        shape: &[usize],
        data: &[f32],
    ) -> Result<BTreeMap<String, TensorF32>> {
        if !self.inputs.iter().any(|n| n == input_name) {
            return Err(OnnxError::Input(format!(
                "the model has no input '{input_name}' (inputs: {:?})",
                self.inputs
            )));
        }
        if shape.iter().product::<usize>() != data.len() {
            return Err(OnnxError::Input(format!(
                "shape {shape:?} does not hold {} values",
                data.len()
            )));
        }
        let tensor = TensorRef::from_array_view((shape, data))
            .map_err(|e| runtime_error("creating input tensor", e))?;
        let mut session = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let outputs = session
            .run(ort::inputs![input_name => tensor])
            .map_err(|e| runtime_error("running the model", e))?;
        let mut result = BTreeMap::new();
        for (name, value) in &outputs {
            let (out_shape, out_data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| runtime_error(&format!("reading output {name}"), e))?;
            // ONNX Runtime reports concrete (non-negative) dimensions for computed outputs.
            let dims = out_shape
                .iter()
                .map(|d| usize::try_from(*d).unwrap_or(0))
                .collect();
            result.insert(name.to_owned(), (dims, out_data.to_vec()));
        }
        Ok(result)
    }
}

fn builder(intra_threads: usize) -> Result<SessionBuilder> {
    let env = environment()?;
    OrtSession::builder(&env)
        .map_err(|e| runtime_error("creating session options", e))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| runtime_error("setting the optimization level", e))?
        .with_intra_threads(intra_threads.max(1))
        .map_err(|e| runtime_error("setting intra-op threads", e))
}
