//! Node attributes: a typed value plus its name, turned into `AttributeProto` with the `type`
//! field set (the checker rejects attributes whose type is missing).

use crate::proto::{attribute_proto::AttributeType, AttributeProto, TensorProto};

/// The value of a node attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// A single float (`f`).
    Float(f32),
    /// A single integer (`i`).
    Int(i64),
    /// A byte string (`s`); ONNX strings are UTF-8 by convention.
    String(Vec<u8>),
    /// A tensor (`t`); boxed because a `TensorProto` dwarfs the other variants.
    Tensor(Box<TensorProto>),
    /// A list of floats (`floats`).
    Floats(Vec<f32>),
    /// A list of integers (`ints`).
    Ints(Vec<i64>),
    /// A list of byte strings (`strings`).
    Strings(Vec<Vec<u8>>),
}

/// A named node attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Attribute name as the operator defines it (e.g. `strides`).
    pub name: String,
    /// Attribute value.
    pub value: AttributeValue,
}

impl Attribute {
    /// A float attribute.
    pub fn float(name: &str, value: f32) -> Self {
        Self::new(name, AttributeValue::Float(value))
    }

    /// An integer attribute.
    pub fn int(name: &str, value: i64) -> Self {
        Self::new(name, AttributeValue::Int(value))
    }

    /// A string attribute.
    pub fn string(name: &str, value: &str) -> Self {
        Self::new(name, AttributeValue::String(value.as_bytes().to_vec()))
    }

    /// A tensor attribute.
    pub fn tensor(name: &str, value: TensorProto) -> Self {
        Self::new(name, AttributeValue::Tensor(Box::new(value)))
    }

    /// A float-list attribute.
    pub fn floats(name: &str, values: &[f32]) -> Self {
        Self::new(name, AttributeValue::Floats(values.to_vec()))
    }

    /// An integer-list attribute.
    pub fn ints(name: &str, values: &[i64]) -> Self {
        Self::new(name, AttributeValue::Ints(values.to_vec()))
    }

    /// A string-list attribute.
    pub fn strings(name: &str, values: &[&str]) -> Self {
        let values = values.iter().map(|s| s.as_bytes().to_vec()).collect();
        Self::new(name, AttributeValue::Strings(values))
    }

    fn new(name: &str, value: AttributeValue) -> Self {
        Self {
            name: name.to_owned(),
            value,
        }
    }

    /// The protobuf form.
    pub fn to_proto(&self) -> AttributeProto {
        let mut proto = AttributeProto {
            name: Some(self.name.clone()),
            ..AttributeProto::default()
        };
        let kind = match &self.value {
            AttributeValue::Float(v) => {
                proto.f = Some(*v);
                AttributeType::Float
            }
            AttributeValue::Int(v) => {
                proto.i = Some(*v);
                AttributeType::Int
            }
            AttributeValue::String(v) => {
                proto.s = Some(v.clone());
                AttributeType::String
            }
            AttributeValue::Tensor(v) => {
                proto.t = Some(v.as_ref().clone());
                AttributeType::Tensor
            }
            AttributeValue::Floats(v) => {
                proto.floats.clone_from(v);
                AttributeType::Floats
            }
            AttributeValue::Ints(v) => {
                proto.ints.clone_from(v);
                AttributeType::Ints
            }
            AttributeValue::Strings(v) => {
                proto.strings.clone_from(v);
                AttributeType::Strings
            }
        };
        proto.set_type(kind);
        proto
    }
}
