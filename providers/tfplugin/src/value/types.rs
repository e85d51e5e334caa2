//! Terraform types, their cty JSON form, and type inference for `dynamic`.

use std::collections::BTreeMap;

use super::{CodecError, Value};

/// A Terraform type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// The `dynamic` pseudo-type: the value carries its own type on the wire.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    pub fn object<I, K>(attrs: I) -> Type
    where
        I: IntoIterator<Item = (K, Type)>,
        K: Into<String>,
    {
        Type::Object(attrs.into_iter().map(|(k, t)| (k.into(), t)).collect())
    }

    /// The cty type JSON Terraform expects in schemas (`"string"`, `["list","string"]`, ...).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(m) => {
                let attrs: serde_json::Map<String, serde_json::Value> =
                    m.iter().map(|(k, t)| (k.clone(), t.to_json())).collect();
                json!(["object", attrs])
            }
            Type::Tuple(v) => json!(["tuple", v.iter().map(Type::to_json).collect::<Vec<_>>()]),
        }
    }

    /// Parses cty type JSON (also used for `dynamic` values on the wire).
    pub fn from_json(j: &serde_json::Value) -> Result<Type, CodecError> {
        use serde_json::Value as J;
        let bad = || CodecError::new(format!("invalid type JSON {j}"));
        match j {
            J::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            J::Array(a) if a.len() >= 2 => match (a[0].as_str(), &a[1]) {
                (Some("list"), t) => Ok(Type::list(Type::from_json(t)?)),
                (Some("set"), t) => Ok(Type::set(Type::from_json(t)?)),
                (Some("map"), t) => Ok(Type::map(Type::from_json(t)?)),
                (Some("object"), J::Object(m)) => Ok(Type::Object(
                    m.iter()
                        .map(|(k, t)| Ok((k.clone(), Type::from_json(t)?)))
                        .collect::<Result<_, CodecError>>()?,
                )),
                (Some("tuple"), J::Array(v)) => Ok(Type::Tuple(
                    v.iter().map(Type::from_json).collect::<Result<_, _>>()?,
                )),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// The type a value has on its own (for `dynamic` attributes).
pub fn infer_type(v: &Value) -> Type {
    match v {
        Value::Unknown | Value::Null => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(items) => Type::list(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Set(items) => Type::set(items.first().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Tuple(items) => Type::Tuple(items.iter().map(infer_type).collect()),
        Value::Map(m) => Type::map(m.values().next().map(infer_type).unwrap_or(Type::Dynamic)),
        Value::Object(m) => {
            Type::Object(m.iter().map(|(k, v)| (k.clone(), infer_type(v))).collect())
        }
    }
}
