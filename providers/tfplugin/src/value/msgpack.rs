//! The msgpack codec Terraform uses for values on the wire
//! (DynamicValue.msgpack), driven by the schema type.

use std::collections::BTreeMap;

use rmpv::Value as Mp;

use super::model::NULL;
use super::{CodecError, Number, Type, Value, infer_type};

/// How deep a msgpack value may nest. rmpv's reader recurses once per level
/// up to its own limit of 1024, which overflowed the 2 MiB stack of a tokio
/// worker (found by reliability/run.sh: a 100,000-deep config from a gRPC
/// client aborted the provider). 128 is serde_json's default limit too.
pub const MAX_MSGPACK_DEPTH: usize = 128;

/// Decodes msgpack bytes against `ty`. Any extension value is an unknown
/// (Terraform 1.11 sends refined unknowns as extension 12 with a payload).
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    check_depth(bytes, MAX_MSGPACK_DEPTH)?;
    let mut rd = bytes;
    let mp =
        rmpv::decode::read_value(&mut rd).map_err(|e| CodecError::new(format!("msgpack: {e}")))?;
    from_mp(&mp, ty)
}

fn from_mp(mp: &Mp, ty: &Type) -> Result<Value, CodecError> {
    if let Mp::Ext(..) = mp {
        return Ok(Value::Unknown);
    }
    if let Mp::Nil = mp {
        return Ok(Value::Null);
    }
    let mismatch = || {
        CodecError::new(format!(
            "msgpack value {mp} does not match type {}",
            ty.to_json()
        ))
    };
    match ty {
        Type::Bool => mp.as_bool().map(Value::Bool).ok_or_else(mismatch),
        Type::String => match mp {
            Mp::String(s) => s
                .as_str()
                .map(|s| Value::String(s.to_string()))
                .ok_or_else(mismatch),
            Mp::Binary(b) => String::from_utf8(b.clone())
                .map(Value::String)
                .map_err(|_| mismatch()),
            _ => Err(mismatch()),
        },
        Type::Number => mp_number(mp).map(Value::Number).ok_or_else(mismatch),
        Type::Dynamic => {
            let pair = mp
                .as_array()
                .filter(|a| a.len() == 2)
                .ok_or_else(mismatch)?;
            let ty_bytes = match &pair[0] {
                Mp::Binary(b) => b.clone(),
                Mp::String(s) => s.as_bytes().to_vec(),
                _ => return Err(mismatch()),
            };
            let tj: serde_json::Value = serde_json::from_slice(&ty_bytes)
                .map_err(|e| CodecError::new(format!("dynamic type: {e}")))?;
            from_mp(&pair[1], &Type::from_json(&tj)?)
        }
        Type::List(t) => Ok(Value::List(mp_items(mp, t).ok_or_else(mismatch)??)),
        Type::Set(t) => Ok(Value::set(mp_items(mp, t).ok_or_else(mismatch)??)),
        Type::Tuple(ts) => {
            let a = mp
                .as_array()
                .filter(|a| a.len() == ts.len())
                .ok_or_else(mismatch)?;
            Ok(Value::Tuple(
                a.iter()
                    .zip(ts)
                    .map(|(v, t)| from_mp(v, t))
                    .collect::<Result<_, _>>()?,
            ))
        }
        Type::Map(t) => {
            let m = mp.as_map().ok_or_else(mismatch)?;
            let mut out = BTreeMap::new();
            for (k, v) in m {
                let k = k.as_str().ok_or_else(mismatch)?;
                out.insert(k.to_string(), from_mp(v, t)?);
            }
            Ok(Value::Map(out))
        }
        Type::Object(attrs) => {
            let m = mp.as_map().ok_or_else(mismatch)?;
            let mut out: BTreeMap<String, Value> =
                attrs.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, v) in m {
                let k = k.as_str().ok_or_else(mismatch)?;
                let t = attrs
                    .get(k)
                    .ok_or_else(|| CodecError::new(format!("unsupported attribute {k:?}")))?;
                out.insert(k.to_string(), from_mp(v, t)?);
            }
            Ok(Value::Object(out))
        }
    }
}

fn mp_items(mp: &Mp, t: &Type) -> Option<Result<Vec<Value>, CodecError>> {
    mp.as_array()
        .map(|a| a.iter().map(|v| from_mp(v, t)).collect())
}

fn mp_number(mp: &Mp) -> Option<Number> {
    match mp {
        Mp::Integer(i) => Number::parse(&i.to_string()),
        Mp::F32(f) => Number::from_f64(f64::from(*f)),
        Mp::F64(f) => Number::from_f64(*f),
        // cty sends numbers that do not fit a float64 exactly as decimal text.
        Mp::String(s) => s.as_str().and_then(Number::parse),
        _ => None,
    }
}

/// Refuses a msgpack value nested deeper than `max` without recursing:
/// walks the markers with a stack of the items left in each open array or
/// map. Truncated or malformed input passes, for the decoder to name.
pub(super) fn check_depth(bytes: &[u8], max: usize) -> Result<(), CodecError> {
    let mut open: Vec<u64> = Vec::new();
    let mut i = 0usize;
    let be = |at: usize, n: usize| -> Option<u64> {
        let b = bytes.get(at..at.checked_add(n)?)?;
        Some(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    loop {
        let Some(&m) = bytes.get(i) else {
            return Ok(());
        };
        i += 1;
        // (bytes to skip, items of a container opened here)
        let (skip, items): (u64, u64) = match m {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (0, 0),
            0x80..=0x8f => (0, 2 * u64::from(m & 0x0f)),
            0x90..=0x9f => (0, u64::from(m & 0x0f)),
            0xa0..=0xbf => (u64::from(m & 0x1f), 0),
            0xcc | 0xd0 => (1, 0),
            0xcd | 0xd1 => (2, 0),
            0xca | 0xce | 0xd2 => (4, 0),
            0xcb | 0xcf | 0xd3 => (8, 0),
            0xd4..=0xd8 => (1 + (1u64 << (m - 0xd4)), 0),
            0xc4 | 0xd9 | 0xc5 | 0xda | 0xc6 | 0xdb | 0xc7 | 0xc8 | 0xc9 => {
                let n = match m {
                    0xc4 | 0xd9 | 0xc7 => 1,
                    0xc5 | 0xda | 0xc8 => 2,
                    _ => 4,
                };
                let Some(len) = be(i, n) else {
                    return Ok(());
                };
                i += n;
                (len + u64::from(matches!(m, 0xc7..=0xc9)), 0)
            }
            0xdc | 0xde => match be(i, 2) {
                Some(n) => {
                    i += 2;
                    (0, if m == 0xde { 2 * n } else { n })
                }
                None => return Ok(()),
            },
            0xdd | 0xdf => match be(i, 4) {
                Some(n) => {
                    i += 4;
                    (0, if m == 0xdf { 2 * n } else { n })
                }
                None => return Ok(()),
            },
            _ => return Ok(()), // 0xc1, never used: the decoder refuses it
        };
        i = match usize::try_from(skip).ok().and_then(|s| i.checked_add(s)) {
            Some(next) => next,
            None => return Ok(()),
        };
        if let Some(left) = open.last_mut() {
            *left -= 1;
        }
        if items > 0 {
            open.push(items);
            if open.len() > max {
                return Err(CodecError::new(format!(
                    "msgpack: value nested deeper than {max} levels"
                )));
            }
        }
        while open.last() == Some(&0) {
            open.pop();
        }
        if open.is_empty() {
            return Ok(());
        }
    }
}

/// Encodes `v` as msgpack against `ty` (unknown = extension 0 `d4 00 00`).
pub fn to_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let mp = to_mp(v, ty)?;
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &mp)
        .map_err(|e| CodecError::new(format!("msgpack: {e}")))?;
    Ok(out)
}

fn to_mp(v: &Value, ty: &Type) -> Result<Mp, CodecError> {
    let mismatch = || CodecError::new(format!("value {v:?} does not match type {}", ty.to_json()));
    match (v, ty) {
        (Value::Unknown, _) => Ok(Mp::Ext(0, vec![0])),
        (Value::Null, _) => Ok(Mp::Nil),
        (_, Type::Dynamic) => {
            let actual = infer_type(v);
            let tj = serde_json::to_vec(&actual.to_json())
                .map_err(|e| CodecError::new(e.to_string()))?;
            Ok(Mp::Array(vec![Mp::Binary(tj), to_mp(v, &actual)?]))
        }
        (Value::Bool(b), Type::Bool) => Ok(Mp::Boolean(*b)),
        (Value::String(s), Type::String) => Ok(Mp::String(s.as_str().into())),
        (Value::Number(n), Type::Number) => Ok(number_to_mp(n)),
        (Value::List(items), Type::List(t)) | (Value::Set(items), Type::Set(t)) => Ok(Mp::Array(
            items
                .iter()
                .map(|i| to_mp(i, t))
                .collect::<Result<_, _>>()?,
        )),
        (Value::List(items) | Value::Tuple(items), Type::Tuple(ts)) if items.len() == ts.len() => {
            Ok(Mp::Array(
                items
                    .iter()
                    .zip(ts)
                    .map(|(i, t)| to_mp(i, t))
                    .collect::<Result<_, _>>()?,
            ))
        }
        (Value::Map(m) | Value::Object(m), Type::Map(t)) => Ok(Mp::Map(
            m.iter()
                .map(|(k, v)| Ok((Mp::String(k.as_str().into()), to_mp(v, t)?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (Value::Object(m), Type::Object(attrs)) => {
            if let Some(extra) = m.keys().find(|k| !attrs.contains_key(*k)) {
                return Err(CodecError::new(format!(
                    "attribute {extra:?} is not in the schema"
                )));
            }
            Ok(Mp::Map(
                attrs
                    .iter()
                    .map(|(k, t)| {
                        Ok((
                            Mp::String(k.as_str().into()),
                            to_mp(m.get(k).unwrap_or(&NULL), t)?,
                        ))
                    })
                    .collect::<Result<_, CodecError>>()?,
            ))
        }
        _ => Err(mismatch()),
    }
}

fn number_to_mp(n: &Number) -> Mp {
    if let Ok(i) = n.text().parse::<i64>() {
        return Mp::from(i);
    }
    if let Ok(u) = n.text().parse::<u64>() {
        return Mp::from(u);
    }
    match n.text().parse::<f64>() {
        // Only when the float prints back as the same text is it exact.
        Ok(f) if Number::from_f64(f).as_ref() == Some(n) => Mp::F64(f),
        _ => Mp::String(n.text().into()),
    }
}
