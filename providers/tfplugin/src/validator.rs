//! Attribute validators: small values attached to a schema attribute
//! ([`Attribute::validate`](crate::schema::Attribute::validate)) that the
//! SDK runs on configuration, at any nesting depth.
//!
//! When they run: ValidateResourceConfig / ValidateDataResourceConfig (the
//! config may still hold unknowns: those are skipped), and again at
//! PlanResourceChange and ReadDataSource, when values that were unknown at
//! validation are known. Null values are skipped too: whether an attribute
//! must be set is the schema's `required`, not a validator's business. Each
//! diagnostic carries the full attribute path (`rules[0].port`).

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use regex::Regex;

use crate::diag::{Diagnostic, Diagnostics};
use crate::duration;
use crate::value::{AttrPath, PathStep, Value};

/// Checks one known, non-null attribute value.
pub trait Validator: Send + Sync + fmt::Debug {
    /// What is accepted, in words (for documentation and debugging).
    fn description(&self) -> String;
    /// Adds an error (or warning) for `value`, found at `at`, to `diags`.
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics);
}

/// The attribute name a path ends in (`port` for `rules[0].port`).
pub fn attr_name(at: &AttrPath) -> &str {
    at.0.iter()
        .rev()
        .find_map(|s| match s {
            PathStep::Attr(a) => Some(a.as_str()),
            _ => None,
        })
        .unwrap_or("value")
}

type CheckFn = dyn Fn(&Value, &str) -> Result<(), String> + Send + Sync;

/// A validator from a check function: `check(value, attribute_name)`
/// returns the error detail. The summary is `Invalid <attribute>` unless set
/// with [`FnValidator::summary`].
pub struct FnValidator {
    description: String,
    summary: Option<String>,
    check: Box<CheckFn>,
}

impl FnValidator {
    /// Replaces the `Invalid <attribute>` summary of its errors.
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = Some(summary.to_string());
        self
    }
}

impl fmt::Debug for FnValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Validator({})", self.description)
    }
}

impl Validator for FnValidator {
    fn description(&self) -> String {
        self.description.clone()
    }
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        let name = attr_name(at);
        if let Err(detail) = (self.check)(value, name) {
            let summary = self
                .summary
                .clone()
                .unwrap_or_else(|| format!("Invalid {name}"));
            diags.push(Diagnostic::error(summary, detail).at(at.clone()));
        }
    }
}

/// A validator from a description and a check function (see [`FnValidator`]).
pub fn from_fn(
    description: &str,
    check: impl Fn(&Value, &str) -> Result<(), String> + Send + Sync + 'static,
) -> FnValidator {
    FnValidator {
        description: description.to_string(),
        summary: None,
        check: Box::new(check),
    }
}

/// A check on a string value (other kinds are the schema's concern and pass).
fn on_str(
    description: String,
    check: impl Fn(&str, &str) -> Result<(), String> + Send + Sync + 'static,
) -> FnValidator {
    from_fn(&description, move |v, name| match v.as_str() {
        Some(s) => check(s, name),
        None => Ok(()),
    })
}

/// One of a fixed set of strings: `sslmode "x" is not one of a, b, c`.
pub fn one_of(allowed: &[&str]) -> FnValidator {
    let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
    let list = allowed.join(", ");
    on_str(format!("one of {list}"), move |s, name| {
        if allowed.iter().any(|a| a == s) {
            Ok(())
        } else {
            Err(format!("{name} {s:?} is not one of {list}"))
        }
    })
}

/// A whole number inside `range`: `limit 0 is not a whole number in 1-100000`.
pub fn i64_in(range: RangeInclusive<i64>) -> FnValidator {
    let (lo, hi) = (*range.start(), *range.end());
    from_fn(
        &format!("a whole number in {lo}-{hi}"),
        move |v, name| match v {
            Value::Number(n) if !n.as_i64().is_some_and(|i| range.contains(&i)) => {
                Err(format!("{name} {n} is not a whole number in {lo}-{hi}"))
            }
            _ => Ok(()),
        },
    )
}

/// A string matching `re` (anchor it: `^…$`); `what` names the expected form.
pub fn regex(re: Regex, what: &str) -> FnValidator {
    let what = what.to_string();
    on_str(format!("{what} (regex {})", re.as_str()), move |s, name| {
        if re.is_match(s) {
            Ok(())
        } else {
            Err(format!(
                "{name} {s:?} is not {what} (regex {})",
                re.as_str()
            ))
        }
    })
}

/// A duration in the providers' grammar (`90s`, `30m`, `24h`, `7d`, `2w`;
/// see [`crate::duration`]), at most 100 years.
pub fn duration() -> FnValidator {
    on_str(
        "a duration: a whole number followed by s, m, h, d or w".into(),
        |s, _| duration::parse(s).map(drop),
    )
}

/// An RFC 1123 host name: dot-separated labels of letters, digits and `-`
/// (not at either end of a label), each at most 63 bytes, 253 in all. A
/// single trailing dot (the DNS root) is refused: configuration names hosts
/// as URLs and certificates do.
pub fn host_name() -> FnValidator {
    on_str("an RFC 1123 host name".into(), |s, name| {
        if is_host_name(s) {
            Ok(())
        } else {
            Err(format!(
                "{name} {s:?} is not an RFC 1123 host name: dot-separated labels of letters, digits and '-' (not first or last), at most 63 characters each and 253 in all"
            ))
        }
    })
}

/// True when `s` is an RFC 1123 host name (see [`host_name`]).
pub fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A string that is not empty, or a collection with at least one element.
pub fn non_empty() -> FnValidator {
    from_fn("not empty", |v, name| {
        let empty = match v {
            Value::String(s) => s.is_empty(),
            Value::List(l) | Value::Set(l) | Value::Tuple(l) => l.is_empty(),
            Value::Map(m) => m.is_empty(),
            _ => false,
        };
        if empty {
            Err(format!("{name} must not be empty"))
        } else {
            Ok(())
        }
    })
}

/// Runs `inner` on every known, non-null element of a list, set or map.
/// List elements are reported at `attr[i]`, map values at `attr["key"]`; set
/// elements at the set itself (a set element has no index to point at).
pub fn each(inner: impl Validator + 'static) -> Each {
    Each(Arc::new(inner))
}

/// See [`each`].
#[derive(Debug)]
pub struct Each(Arc<dyn Validator>);

impl Validator for Each {
    fn description(&self) -> String {
        format!("each element: {}", self.0.description())
    }
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        let known = |v: &Value| !v.is_null() && !v.is_unknown();
        match value {
            Value::List(l) | Value::Tuple(l) => {
                for (i, v) in l.iter().enumerate().filter(|(_, v)| known(v)) {
                    self.0.validate(v, &at.clone().index(i as i64), diags);
                }
            }
            Value::Set(l) => {
                for v in l.iter().filter(|v| known(v)) {
                    self.0.validate(v, at, diags);
                }
            }
            Value::Map(m) => {
                for (k, v) in m.iter().filter(|(_, v)| known(v)) {
                    self.0.validate(v, &at.clone().key(k), diags);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &dyn Validator, value: Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        v.validate(
            &value,
            &AttrPath::root().attr("rules").index(0).attr("mode"),
            &mut d,
        );
        d
    }

    #[test]
    fn stock_validators_accept_and_refuse() {
        let modes = one_of(&["a", "b"]);
        assert!(run(&modes, Value::from("a")).is_empty());
        let d = run(&modes, Value::from("c"));
        assert_eq!(d.0[0].summary, "Invalid mode");
        assert_eq!(d.0[0].detail, "mode \"c\" is not one of a, b");
        assert_eq!(d.0[0].path.as_ref().unwrap().to_string(), "rules[0].mode");

        let r = i64_in(1..=10);
        assert!(run(&r, Value::from(10)).is_empty());
        for bad in [Value::from(0), Value::from(11)] {
            assert!(run(&r, bad).has_errors());
        }
        let frac = Value::Number(crate::value::Number::parse("1.5").unwrap());
        assert!(
            run(&r, frac).has_errors(),
            "fractions are not whole numbers"
        );

        let re = regex(Regex::new("^[a-z]+$").unwrap(), "lower-case letters");
        assert!(run(&re, Value::from("abc")).is_empty());
        assert!(run(&re, Value::from("aBc")).has_errors());

        assert!(run(&duration(), Value::from("7d")).is_empty());
        let d = run(&duration().summary("Invalid duration"), Value::from("1y"));
        assert_eq!(d.0[0].summary, "Invalid duration");

        for ok in ["a", "db.example", "a-b.c0", &"a".repeat(63)] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a..b",
            "a.",
            "a_b",
            "ü.example",
            &"a".repeat(64),
            "a b",
        ] {
            assert!(!is_host_name(bad), "{bad:?}");
            assert!(run(&host_name(), Value::from(bad)).has_errors());
        }
        assert!(!is_host_name(&["a"; 127].join(".")[..].repeat(2)));

        assert!(run(&non_empty(), Value::from("")).has_errors());
        assert!(run(&non_empty(), Value::List(vec![])).has_errors());
        assert!(run(&non_empty(), Value::string_list(["x"])).is_empty());
    }

    #[test]
    fn each_points_at_the_element() {
        let v = each(one_of(&["a"]));
        let list = Value::List(vec![Value::from("a"), Value::Unknown, Value::from("b")]);
        let d = run(&v, list);
        assert_eq!(d.0.len(), 1);
        assert_eq!(
            d.0[0].path.as_ref().unwrap().to_string(),
            "rules[0].mode[2]"
        );
        let set = Value::string_set(["b", "c"]);
        assert_eq!(run(&v, set).0.len(), 2);
    }
}
