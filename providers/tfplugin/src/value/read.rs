//! Typed getters: reading configuration values in provider code without
//! hand-written matching. Null and unknown read as "not set" (`None` or
//! empty); a value of the wrong form is an error naming what was expected.

use std::ops::RangeInclusive;
use std::time::Duration;

use super::Value;
use crate::duration;

impl Value {
    /// The string, owned; None when not a (known) string.
    pub fn string(&self) -> Option<String> {
        self.as_str().map(str::to_string)
    }

    /// The strings of a list, set or tuple, in order; null, unknown and
    /// non-string elements are skipped. Empty when not a collection.
    pub fn strings(&self) -> Vec<String> {
        self.as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(Value::string)
            .collect()
    }

    /// A whole number inside `range`; None when null or unknown.
    pub fn i64_in(&self, range: RangeInclusive<i64>) -> Result<Option<i64>, String> {
        match self {
            Value::Null | Value::Unknown => Ok(None),
            Value::Number(n) => match n.as_i64() {
                Some(i) if range.contains(&i) => Ok(Some(i)),
                _ => Err(format!(
                    "{n} is not a whole number in {}-{}",
                    range.start(),
                    range.end()
                )),
            },
            other => Err(format!("{other:?} is not a number")),
        }
    }

    /// A duration in the providers' grammar (see [`crate::duration`]); None
    /// when null or unknown.
    pub fn duration(&self) -> Result<Option<Duration>, String> {
        match self {
            Value::Null | Value::Unknown => Ok(None),
            Value::String(s) => duration::parse(s).map(Some),
            other => Err(format!("{other:?} is not a duration string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_read_what_is_there() {
        let list = Value::List(vec![
            Value::from("a"),
            Value::Null,
            Value::Unknown,
            Value::from("b"),
        ]);
        assert_eq!(list.strings(), ["a", "b"]);
        assert_eq!(Value::string_set(["y", "x"]).strings(), ["x", "y"]);
        assert!(Value::Null.strings().is_empty());
        assert_eq!(Value::from("s").string().as_deref(), Some("s"));

        assert_eq!(Value::from(5).i64_in(1..=10), Ok(Some(5)));
        assert_eq!(Value::Unknown.i64_in(1..=10), Ok(None));
        assert!(Value::from(11).i64_in(1..=10).unwrap_err().contains("1-10"));
        assert!(Value::from("5").i64_in(1..=10).is_err());

        assert_eq!(
            Value::from("2h").duration(),
            Ok(Some(Duration::from_secs(7200)))
        );
        assert_eq!(Value::Null.duration(), Ok(None));
        assert!(Value::from("2 h").duration().is_err());
    }
}
