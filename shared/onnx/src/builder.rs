//! `GraphBuilder`: assembles an ONNX graph (inputs, initializers, nodes, outputs) with unique,
//! deterministic names, and finishes it into an [`OnnxModel`] at opset 17.
//!
//! Builder methods return the name of the value they define so calls chain naturally. Misuse
//! (an undefined input, a duplicate name, data that does not fit its shape) is recorded and
//! reported by [`GraphBuilder::try_finish`], so op methods stay infallible.

use std::collections::{BTreeMap, HashSet};

use crate::attribute::Attribute;
use crate::error::{OnnxError, Result};
use crate::model::OnnxModel;
use crate::proto::{
    tensor_proto::DataType, tensor_shape_proto::dimension::Value as DimValue,
    tensor_shape_proto::Dimension, type_proto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};

/// Opset of the default (`ai.onnx`) domain every exported model imports.
pub const OPSET_VERSION: i64 = 17;
/// IR version written into every model (IR 8 is what opset 17 shipped with).
pub const IR_VERSION: i64 = 8;
/// `producer_name` of every model written here.
pub const PRODUCER_NAME: &str = "trainyard";

/// One dimension of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size (e.g. `batch`), chosen at run time.
    Dynamic(String),
}

/// Builds one ONNX graph; see the module documentation.
#[derive(Debug)]
pub struct GraphBuilder {
    name: String,
    inputs: Vec<ValueInfoProto>,
    outputs: Vec<ValueInfoProto>,
    initializers: Vec<TensorProto>,
    nodes: Vec<NodeProto>,
    /// Every value name defined so far (inputs, initializers, node outputs).
    values: HashSet<String>,
    node_names: HashSet<String>,
    /// Per-op-type counters, so node names read `Conv_0`, `Conv_1`, `Relu_0`, ….
    op_counts: BTreeMap<String, usize>,
    /// First misuse, reported by `try_finish`.
    error: Option<String>,
}

impl GraphBuilder {
    /// Starts an empty graph called `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            initializers: Vec::new(),
            nodes: Vec::new(),
            values: HashSet::new(),
            node_names: HashSet::new(),
            op_counts: BTreeMap::new(),
            error: None,
        }
    }

    /// Declares a float graph input of the given shape; returns its name (`name` itself).
    pub fn input(&mut self, name: &str, dims: &[Dim]) -> String {
        self.define_exact(name);
        self.inputs.push(value_info(name, DataType::Float, dims));
        name.to_owned()
    }

    /// Adds a float initializer (stored as little-endian `raw_data`); returns its name.
    pub fn initializer(&mut self, name: &str, dims: &[i64], data: &[f32]) -> String {
        self.check_len(name, dims, data.len());
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, DataType::Float, raw)
    }

    /// Adds an int64 initializer (e.g. a `Reshape` target shape); returns its name.
    pub fn initializer_i64(&mut self, name: &str, dims: &[i64], data: &[i64]) -> String {
        self.check_len(name, dims, data.len());
        let raw = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, DataType::Int64, raw)
    }

    /// Adds a node of `op_type` (default domain) with one output; returns the output's name.
    pub fn node(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<Attribute>) -> String {
        let mut outputs = self.node_with_outputs(op_type, inputs, attrs, 1);
        outputs.remove(0)
    }

    /// Adds a node with `n_outputs` outputs; returns their names in order.
    pub fn node_with_outputs(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        attrs: Vec<Attribute>,
        n_outputs: usize,
    ) -> Vec<String> {
        let node_name = self.fresh_node_name(op_type);
        for input in inputs {
            // An empty name is ONNX's way of leaving an optional input out.
            if !input.is_empty() && !self.values.contains(*input) {
                self.fail(format!("node {node_name}: input '{input}' is not defined"));
            }
        }
        let outputs: Vec<String> = (0..n_outputs)
            .map(|i| {
                let base = if n_outputs == 1 {
                    format!("{node_name}.out")
                } else {
                    format!("{node_name}.out{i}")
                };
                self.fresh_value(&base)
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: outputs.clone(),
            name: Some(node_name),
            op_type: Some(op_type.to_owned()),
            domain: Some(String::new()),
            attribute: attrs.iter().map(Attribute::to_proto).collect(),
            doc_string: None,
        });
        outputs
    }

    /// Declares `value` as a float graph output called `name`. When the names differ an
    /// `Identity` node gives the output its exact name, so `value` stays usable afterwards.
    pub fn output(&mut self, name: &str, value: &str, dims: &[Dim]) {
        if !self.values.contains(value) {
            self.fail(format!("output {name}: value '{value}' is not defined"));
        } else if name != value {
            let node_name = self.fresh_node_name("Identity");
            self.define_exact(name);
            self.nodes.push(NodeProto {
                input: vec![value.to_owned()],
                output: vec![name.to_owned()],
                name: Some(node_name),
                op_type: Some("Identity".to_owned()),
                domain: Some(String::new()),
                ..NodeProto::default()
            });
        }
        if self.outputs.iter().any(|o| o.name.as_deref() == Some(name)) {
            self.fail(format!("output '{name}' is declared twice"));
        }
        self.outputs.push(value_info(name, DataType::Float, dims));
    }

    /// Finishes the model with `metadata` as its `metadata_props`.
    ///
    /// # Panics
    /// If the graph was misused (see [`GraphBuilder::try_finish`]); that is a bug in the
    /// calling code, not a run-time condition.
    pub fn finish(self, metadata: &[(&str, &str)]) -> OnnxModel {
        match self.try_finish(metadata) {
            Ok(model) => model,
            Err(e) => panic!("{e}"),
        }
    }

    /// Finishes the model, or reports the first misuse of the builder.
    pub fn try_finish(self, metadata: &[(&str, &str)]) -> Result<OnnxModel> {
        if let Some(reason) = self.error {
            return Err(OnnxError::Graph(reason));
        }
        if self.outputs.is_empty() {
            return Err(OnnxError::Graph(format!(
                "graph {} has no output",
                self.name
            )));
        }
        let graph = GraphProto {
            node: self.nodes,
            name: Some(self.name),
            initializer: self.initializers,
            doc_string: None,
            input: self.inputs,
            output: self.outputs,
            value_info: Vec::new(),
        };
        let metadata_props = metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some((*k).to_owned()),
                value: Some((*v).to_owned()),
            })
            .collect();
        let proto = ModelProto {
            ir_version: Some(IR_VERSION),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(OPSET_VERSION),
            }],
            producer_name: Some(PRODUCER_NAME.to_owned()),
            producer_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            domain: None,
            model_version: Some(1),
            doc_string: None,
            graph: Some(graph),
            metadata_props,
        };
        Ok(OnnxModel::from_proto(proto))
    }

    fn push_initializer(&mut self, name: &str, dims: &[i64], ty: DataType, raw: Vec<u8>) -> String {
        self.define_exact(name);
        self.initializers.push(TensorProto {
            dims: dims.to_vec(),
            data_type: Some(ty as i32),
            name: Some(name.to_owned()),
            raw_data: Some(raw),
            ..TensorProto::default()
        });
        name.to_owned()
    }

    fn check_len(&mut self, name: &str, dims: &[i64], len: usize) {
        let expected: i64 = dims.iter().product();
        if dims.iter().any(|d| *d < 0) || usize::try_from(expected).ok() != Some(len) {
            self.fail(format!(
                "initializer {name}: shape {dims:?} does not hold {len} values"
            ));
        }
    }

    /// Defines a caller-chosen name, which must not be taken: callers rely on it verbatim.
    fn define_exact(&mut self, name: &str) {
        if name.is_empty() || !self.values.insert(name.to_owned()) {
            self.fail(format!("value name '{name}' is empty or already defined"));
        }
    }

    /// Defines a generated name, suffixed if a caller already took it.
    fn fresh_value(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 1;
        while self.values.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.values.insert(name.clone());
        name
    }

    fn fresh_node_name(&mut self, op_type: &str) -> String {
        loop {
            let count = self.op_counts.entry(op_type.to_owned()).or_insert(0);
            let name = format!("{op_type}_{count}");
            *count += 1;
            if self.node_names.insert(name.clone()) {
                return name;
            }
        }
    }

    fn fail(&mut self, reason: String) {
        self.error.get_or_insert(reason);
    }
}

/// A `ValueInfoProto` for a tensor of `ty` with the given dimensions.
fn value_info(name: &str, ty: DataType, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(v) => DimValue::DimValue(*v),
                Dim::Dynamic(p) => DimValue::DimParam(p.clone()),
            }),
            denotation: None,
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: Some(ty as i32),
        shape: Some(TensorShapeProto { dim }),
    };
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            denotation: None,
        }),
        doc_string: None,
    }
}
