//! The value model: what a Terraform value is, independent of any encoding.

use std::collections::BTreeMap;

use super::Number;

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

pub(super) static NULL: Value = Value::Null;

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
            Value::Number(n) => format!("n{:>40}", n.text()),
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
