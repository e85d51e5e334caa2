//! The JSON codec: DynamicValue.json and stored state (raw JSON), driven by
//! the schema type.

use std::collections::BTreeMap;

use super::{CodecError, Number, Type, Value};

/// Decodes JSON (DynamicValue.json or raw state) against `ty`. JSON has no
/// unknowns. With `lenient`, object attributes missing from the type are
/// dropped instead of rejected (state written by an older schema).
pub fn from_json(j: &serde_json::Value, ty: &Type, lenient: bool) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    let mismatch = || {
        CodecError::new(format!(
            "JSON value {j} does not match type {}",
            ty.to_json()
        ))
    };
    match (j, ty) {
        (J::Null, _) => Ok(Value::Null),
        (_, Type::Dynamic) => {
            let (Some(value), Some(t)) = (j.get("value"), j.get("type")) else {
                return Err(mismatch());
            };
            from_json(value, &Type::from_json(t)?, lenient)
        }
        (J::Bool(b), Type::Bool) => Ok(Value::Bool(*b)),
        (J::String(s), Type::String) => Ok(Value::String(s.clone())),
        (J::Number(n), Type::Number) => Number::parse(&n.to_string())
            .map(Value::Number)
            .ok_or_else(mismatch),
        (J::String(s), Type::Number) => Number::parse(s).map(Value::Number).ok_or_else(mismatch),
        (J::Array(a), Type::List(t)) => Ok(Value::List(
            a.iter()
                .map(|v| from_json(v, t, lenient))
                .collect::<Result<_, _>>()?,
        )),
        (J::Array(a), Type::Set(t)) => Ok(Value::set(
            a.iter()
                .map(|v| from_json(v, t, lenient))
                .collect::<Result<_, _>>()?,
        )),
        (J::Array(a), Type::Tuple(ts)) if a.len() == ts.len() => Ok(Value::Tuple(
            a.iter()
                .zip(ts)
                .map(|(v, t)| from_json(v, t, lenient))
                .collect::<Result<_, _>>()?,
        )),
        (J::Object(m), Type::Map(t)) => Ok(Value::Map(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_json(v, t, lenient)?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (J::Object(m), Type::Object(attrs)) => {
            let mut out: BTreeMap<String, Value> =
                attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, v) in m {
                match attrs.get(k) {
                    Some(t) => {
                        out.insert(k.clone(), from_json(v, t, lenient)?);
                    }
                    None if lenient => {}
                    None => return Err(CodecError::new(format!("unsupported attribute {k:?}"))),
                }
            }
            Ok(Value::Object(out))
        }
        _ => Err(mismatch()),
    }
}

/// Encodes a fully known value as JSON (unknowns are refused: JSON has none).
pub fn to_json(v: &Value) -> Result<serde_json::Value, CodecError> {
    use serde_json::Value as J;
    Ok(match v {
        Value::Unknown => return Err(CodecError::new("unknown values cannot be encoded as JSON")),
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(n) => {
            serde_json::from_str(n.text()).map_err(|e| CodecError::new(e.to_string()))?
        }
        Value::String(s) => J::String(s.clone()),
        Value::List(a) | Value::Set(a) | Value::Tuple(a) => {
            J::Array(a.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(m) | Value::Object(m) => J::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v)?)))
                .collect::<Result<_, CodecError>>()?,
        ),
    })
}
