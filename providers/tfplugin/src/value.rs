//! A cty-like dynamic value, its types, and the schema-driven msgpack and JSON
//! codecs Terraform uses on the wire.
//!
//! Why our own value type: Terraform's values carry "unknown" and "null" at any
//! depth, numbers of arbitrary precision, and sets with value semantics; none
//! of the general-purpose serde data models represent all three faithfully.

use std::collections::BTreeMap;
use std::fmt;

use rmpv::Value as Mp;

/// A Terraform value. Sets are kept in a canonical order (sorted, without
/// duplicates) so two equal sets compare equal.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Not known until apply. Refinements sent by Terraform are dropped.
    Unknown,
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
    Tuple(Vec<Value>),
}

static NULL: Value = Value::Null;

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no unknown appears anywhere inside.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().all(Value::is_fully_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            _ => true,
        }
    }

    /// An object attribute, or null when absent or when `self` is no object.
    pub fn get(&self, attr: &str) -> &Value {
        match self {
            Value::Object(m) => m.get(attr).unwrap_or(&NULL),
            _ => &NULL,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) | Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn object<I, K>(attrs: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn string_list<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    pub fn string_set<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::set(items.into_iter().map(|s| Value::String(s.into())).collect())
    }

    /// A set in canonical order (sorted, duplicates removed). Elements that
    /// are not wholly known are never merged: like cty, two unknowns are two
    /// distinct elements (`toset([a.id, b.id])` has two members while planning).
    pub fn set(mut items: Vec<Value>) -> Value {
        items.sort_by_cached_key(Value::sort_key);
        items.dedup_by(|a, b| a == b && a.is_fully_known());
        Value::Set(items)
    }

    /// Sets (or replaces) one attribute of an object; a null becomes an object.
    pub fn with_attr(self, name: &str, v: Value) -> Value {
        let mut m = match self {
            Value::Object(m) => m,
            _ => BTreeMap::new(),
        };
        m.insert(name.to_string(), v);
        Value::Object(m)
    }

    /// A total order key used to canonicalise sets.
    fn sort_key(&self) -> String {
        match self {
            Value::Unknown => "\u{0}unknown".into(),
            Value::Null => "\u{0}null".into(),
            Value::Bool(b) => format!("b{b}"),
            Value::Number(n) => format!("n{:>40}", n.0),
            Value::String(s) => format!("s{s}"),
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => {
                let parts: Vec<String> = v.iter().map(Value::sort_key).collect();
                format!("l[{}]", parts.join("\u{1}"))
            }
            Value::Map(m) | Value::Object(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}\u{2}{}", v.sort_key()))
                    .collect();
                format!("m{{{}}}", parts.join("\u{1}"))
            }
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Number(Number::from(n))
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

/// An arbitrary-precision decimal, kept as its exact canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// Parses decimal text (`-12`, `3.25`, `1e400`); returns None for non-numbers.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let body = t.strip_prefix('-').unwrap_or(t);
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
            return None;
        }
        if let Some(e) = exp {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if e.is_empty() || !digits_ok(e) {
                return None;
            }
        }
        Some(Number(canonical(t)))
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }

    pub fn from_f64(f: f64) -> Option<Number> {
        f.is_finite().then(|| Number(canonical(&format!("{f}"))))
    }
}

/// Canonical text: no leading `+`, no redundant zeros, integral values without
/// a fraction, so `1.50` and `1.5` (and `2.0` and `2`) compare equal.
fn canonical(t: &str) -> String {
    if t.contains(['e', 'E']) {
        return t.to_string();
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut out = String::new();
    if neg && !(int == "0" && frac.is_empty()) {
        out.push('-');
    }
    out.push_str(int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

impl From<i64> for Number {
    fn from(n: i64) -> Self {
        Number(n.to_string())
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Index(i64),
    Key(String),
}

/// Where in a value something is (for diagnostics and RequiresReplace).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root() -> AttrPath {
        AttrPath(Vec::new())
    }
    pub fn attr(mut self, name: &str) -> AttrPath {
        self.0.push(PathStep::Attr(name.to_string()));
        self
    }
    pub fn index(mut self, i: i64) -> AttrPath {
        self.0.push(PathStep::Index(i));
        self
    }
    pub fn key(mut self, k: &str) -> AttrPath {
        self.0.push(PathStep::Key(k.to_string()));
        self
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

/// A value that does not match its schema type, or malformed bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(String);

impl CodecError {
    fn new(msg: impl Into<String>) -> CodecError {
        CodecError(msg.into())
    }
}

// ---------------------------------------------------------------- msgpack --

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
        Mp::Integer(i) => Some(Number(i.to_string())),
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
fn check_depth(bytes: &[u8], max: usize) -> Result<(), CodecError> {
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
    if let Ok(i) = n.0.parse::<i64>() {
        return Mp::from(i);
    }
    if let Ok(u) = n.0.parse::<u64>() {
        return Mp::from(u);
    }
    match n.0.parse::<f64>() {
        // Only when the float prints back as the same text is it exact.
        Ok(f) if Number::from_f64(f).as_ref() == Some(n) => Mp::F64(f),
        _ => Mp::String(n.0.as_str().into()),
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

// ------------------------------------------------------------------- JSON --

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
            serde_json::from_str(&n.0).map_err(|e| CodecError::new(e.to_string()))?
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A value nested past the limit is an error without recursing (the
    /// reader's own recursion overflowed a 2 MiB worker stack); one at the
    /// limit still decodes.
    #[test]
    fn msgpack_nested_past_the_limit_is_refused_without_recursion() {
        let nested = |depth: usize| {
            let mut b = vec![0x91u8; depth];
            b.push(0xc0);
            b
        };
        let mut ty = Type::String;
        for _ in 0..MAX_MSGPACK_DEPTH {
            ty = Type::list(ty);
        }
        from_msgpack(&nested(MAX_MSGPACK_DEPTH), &ty).expect("at the limit");
        let deep = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || from_msgpack(&nested(1_000_000), &Type::Dynamic))
            .unwrap()
            .join()
            .expect("no stack overflow");
        let err = deep.expect_err("too deep").to_string();
        assert!(err.contains("nested deeper than 128 levels"), "{err}");
        // Lengths in headers (str8, bin16, array32, map16) are skipped, not
        // counted as levels.
        let mut mixed = vec![0x93, 0xd9, 2, b'a', b'b', 0xc5, 0, 1, 0xff];
        mixed.extend([0xdd, 0, 0, 0, 1, 0xde, 0, 1, 0xa1, b'k', 0xc3]);
        check_depth(&mixed, 3).expect("three levels");
        assert!(check_depth(&mixed, 2).is_err());
    }

    fn obj_ty() -> Type {
        Type::object([
            ("name", Type::String),
            ("n", Type::Number),
            ("tags", Type::set(Type::String)),
            ("rules", Type::list(Type::object([("port", Type::Number)]))),
            ("extra", Type::Dynamic),
        ])
    }

    #[test]
    fn msgpack_round_trip_keeps_every_kind() {
        let v = Value::object([
            ("name", Value::from("a")),
            (
                "n",
                Value::Number(Number::parse("12345678901234567890123").unwrap()),
            ),
            ("tags", Value::string_set(["b", "a", "b"])),
            (
                "rules",
                Value::List(vec![
                    Value::object([("port", Value::from(443))]),
                    Value::Unknown,
                ]),
            ),
            ("extra", Value::object([("k", Value::from(true))])),
        ]);
        let bytes = to_msgpack(&v, &obj_ty()).unwrap();
        assert_eq!(from_msgpack(&bytes, &obj_ty()).unwrap(), v);
        assert_eq!(v.get("tags"), &Value::string_set(["a", "b"]));
    }

    #[test]
    fn any_extension_is_unknown_and_we_emit_ext0() {
        // Terraform 1.11 refined unknown: ext type 12 with a payload.
        let refined = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
        assert_eq!(
            from_msgpack(&refined, &Type::String).unwrap(),
            Value::Unknown
        );
        assert_eq!(
            to_msgpack(&Value::Unknown, &Type::String).unwrap(),
            vec![0xd4, 0x00, 0x00]
        );
    }

    #[test]
    fn numbers_are_exact() {
        for text in [
            "0",
            "-7",
            "3.25",
            "0.1",
            "18446744073709551615",
            "1e400",
            "123456789012345678901234567890.5",
        ] {
            let n = Number::parse(text).unwrap();
            let bytes = to_msgpack(&Value::Number(n.clone()), &Type::Number).unwrap();
            assert_eq!(
                from_msgpack(&bytes, &Type::Number).unwrap(),
                Value::Number(n),
                "{text}"
            );
        }
        assert_eq!(
            Number::parse("2.50").unwrap(),
            Number::parse("2.5").unwrap()
        );
        assert_eq!(Number::parse("2.0").unwrap().as_i64(), Some(2));
        assert!(
            Number::parse("1.2.3").is_none()
                && Number::parse("abc").is_none()
                && Number::parse("").is_none()
        );
    }

    #[test]
    fn missing_object_attributes_decode_as_null_and_unknown_ones_fail() {
        let bytes = to_msgpack(
            &Value::object([("name", Value::from("x"))]),
            &Type::object([("name", Type::String)]),
        )
        .unwrap();
        let v = from_msgpack(&bytes, &obj_ty()).unwrap();
        assert!(v.get("n").is_null());
        let bad = to_msgpack(
            &Value::object([("zzz", Value::from("x"))]),
            &Type::object([("zzz", Type::String)]),
        )
        .unwrap();
        assert!(from_msgpack(&bad, &obj_ty()).is_err());
    }

    #[test]
    fn json_codec_and_lenient_state() {
        let j: serde_json::Value =
            serde_json::from_str(r#"{"name":"a","n":12345678901234567890,"gone":1,"extra":{"value":"x","type":"string"}}"#).unwrap();
        assert!(from_json(&j, &obj_ty(), false).is_err());
        let v = from_json(&j, &obj_ty(), true).unwrap();
        assert_eq!(
            v.get("n").as_f64().map(|_| v.get("n").clone()),
            Some(Value::Number(
                Number::parse("12345678901234567890").unwrap()
            ))
        );
        assert_eq!(v.get("extra"), &Value::from("x"));
        assert_eq!(
            to_json(&v.get("n").clone()).unwrap().to_string(),
            "12345678901234567890"
        );
    }

    #[test]
    fn type_json_round_trips() {
        let t = obj_ty();
        assert_eq!(Type::from_json(&t.to_json()).unwrap(), t);
    }

    #[test]
    fn unknown_set_elements_stay_distinct() {
        let ty = Type::set(Type::String);
        let v = Value::set(vec![
            Value::Unknown,
            Value::from("a"),
            Value::Unknown,
            Value::from("a"),
        ]);
        assert_eq!(v.as_list().map(<[Value]>::len), Some(3));
        let bytes = to_msgpack(&v, &ty).unwrap();
        assert_eq!(from_msgpack(&bytes, &ty).unwrap(), v);
    }

    #[test]
    fn decimal_text_numbers_and_dynamic_unknowns_decode() {
        // cty sends numbers beyond float64 precision as msgpack strings.
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Mp::from("98765432109876543210.125")).unwrap();
        assert_eq!(
            from_msgpack(&bytes, &Type::Number).unwrap(),
            Value::Number(Number::parse("98765432109876543210.125").unwrap())
        );
        // An unknown of dynamic type is a bare extension, not a [type, value] pair.
        assert_eq!(
            from_msgpack(&[0xd4, 0x00, 0x00], &Type::Dynamic).unwrap(),
            Value::Unknown
        );
        assert_eq!(from_msgpack(&[0xc0], &Type::Dynamic).unwrap(), Value::Null);
    }

    #[test]
    fn paths_print_like_terraform() {
        let p = AttrPath::root().attr("rules").index(0).attr("port");
        assert_eq!(p.to_string(), "rules[0].port");
    }
}
