//! `OnnxModel`: an in-memory ONNX `ModelProto` with the encode/decode, file, digest and
//! introspection operations the rest of Trainyard needs.

use std::collections::BTreeMap;
use std::path::Path;

use prost::Message;
use sha2::{Digest as _, Sha256};

use crate::builder::Dim;
use crate::error::{OnnxError, Result};
use crate::proto::{
    tensor_shape_proto::dimension::Value as DimValue, type_proto, ModelProto, ValueInfoProto,
};

/// Content digest of a written model, as recorded in model lineage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256_hex: String,
    /// File size in bytes.
    pub size_bytes: u64,
}

/// Name, element type and shape of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Value name.
    pub name: String,
    /// `TensorProto.DataType` code (1 = float); `None` when the type is not a tensor.
    pub elem_type: Option<i32>,
    /// Dimensions; a dimension with neither value nor parameter reads as `Dynamic("")`.
    pub shape: Vec<Dim>,
}

/// An ONNX model (see the module documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxModel {
    proto: ModelProto,
}

impl OnnxModel {
    /// Wraps a protobuf model as is.
    pub fn from_proto(proto: ModelProto) -> Self {
        Self { proto }
    }

    /// The protobuf model.
    pub fn proto(&self) -> &ModelProto {
        &self.proto
    }

    /// Consumes the wrapper, returning the protobuf model.
    pub fn into_proto(self) -> ModelProto {
        self.proto
    }

    /// Decodes a serialized model; it must contain a graph.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes, "memory")
    }

    /// Reads and decodes a model file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| OnnxError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::decode(&bytes, &path.display().to_string())
    }

    fn decode(bytes: &[u8], origin: &str) -> Result<Self> {
        let proto = ModelProto::decode(bytes).map_err(|source| OnnxError::Decode {
            origin: origin.to_owned(),
            source,
        })?;
        // Protobuf accepts almost any short byte string (even an empty one) as a message with
        // absent fields, so a missing graph is how most non-model inputs show up.
        if proto.graph.is_none() {
            return Err(OnnxError::Invalid {
                origin: origin.to_owned(),
                reason: "no graph".to_owned(),
            });
        }
        if proto.ir_version.is_none() {
            return Err(OnnxError::Invalid {
                origin: origin.to_owned(),
                reason: "no ir_version".to_owned(),
            });
        }
        Ok(Self { proto })
    }

    /// The serialized model.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.proto.encode_to_vec()
    }

    /// Lower-case hex SHA-256 of [`OnnxModel::to_bytes`].
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(self.to_bytes()))
    }

    /// Writes the model to `path` (through a temporary file renamed into place, so readers
    /// never see a partial model) and returns its digest.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<Digest> {
        let path = path.as_ref();
        let bytes = self.to_bytes();
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(".tmp");
        let tmp = path.with_file_name(tmp_name);
        let io = |source| OnnxError::Io {
            path: path.to_owned(),
            source,
        };
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(Digest {
            sha256_hex: hex::encode(Sha256::digest(&bytes)),
            size_bytes: bytes.len() as u64,
        })
    }

    /// `metadata_props` as a map (a later duplicate key wins, as in ONNX Runtime).
    pub fn metadata(&self) -> BTreeMap<String, String> {
        self.proto
            .metadata_props
            .iter()
            .map(|e| (e.key().to_owned(), e.value().to_owned()))
            .collect()
    }

    /// Graph inputs that are not initializers.
    pub fn inputs(&self) -> Vec<TensorInfo> {
        let graph = self.proto.graph.as_ref();
        let initializers: Vec<&str> = graph
            .map(|g| g.initializer.iter().map(|t| t.name()).collect())
            .unwrap_or_default();
        graph
            .map(|g| {
                g.input
                    .iter()
                    .filter(|v| !initializers.contains(&v.name()))
                    .map(tensor_info)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Graph outputs.
    pub fn outputs(&self) -> Vec<TensorInfo> {
        self.proto
            .graph
            .as_ref()
            .map(|g| g.output.iter().map(tensor_info).collect())
            .unwrap_or_default()
    }
}

fn tensor_info(value: &ValueInfoProto) -> TensorInfo {
    // `TensorType` is the only type variant in our subset; an absent one means "not a tensor".
    let tensor = value
        .r#type
        .as_ref()
        .and_then(|t| t.value.as_ref())
        .map(|type_proto::Value::TensorType(tensor)| tensor);
    let shape = tensor
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(v)) => Dim::Fixed(*v),
                    Some(DimValue::DimParam(p)) => Dim::Dynamic(p.clone()),
                    None => Dim::Dynamic(String::new()),
                })
                .collect()
        })
        .unwrap_or_default();
    TensorInfo {
        name: value.name().to_owned(),
        elem_type: tensor.and_then(|t| t.elem_type),
        shape,
    }
}
