//! Authentik's duration text (`hours=24;minutes=30`), checked at plan time
//! as the server checks it: `timedelta_string_validator` and
//! `timedelta_from_string` in `authentik/lib/utils/time.py` (the validator
//! of the proxy provider's `access_token_validity`). Pairs separated by
//! `;`, each exactly one `key=value`; keys compared in lower case, unknown
//! keys skipped; values are Python floats; at least one known key. A value
//! Python's `timedelta` cannot hold (infinite, beyond 999999999 days)
//! escapes the validator and fails the request with a server error, so it
//! is refused here too.

use tfplugin::validator::{FnValidator, from_fn};

const UNITS: &[(&str, f64)] = &[
    ("microseconds", 1e-6),
    ("milliseconds", 1e-3),
    ("seconds", 1.0),
    ("minutes", 60.0),
    ("hours", 3600.0),
    ("days", 86400.0),
    ("weeks", 604800.0),
];

/// Python's `float()` of `s` (surrounding white space allowed, `_` between
/// digits, `inf`/`nan` spelt any case).
fn python_float(s: &str) -> Option<f64> {
    let s = s.trim();
    let b = s.as_bytes();
    let mut plain = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let digit = |j: Option<&u8>| j.is_some_and(u8::is_ascii_digit);
            if !(i > 0 && digit(b.get(i - 1)) && digit(b.get(i + 1))) {
                return None;
            }
            continue;
        }
        plain.push(c as char);
    }
    let lower = plain.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if lower.len() - body.len() > 1 {
        return None;
    }
    let named = ["inf", "infinity", "nan"].contains(&body);
    let numeric = body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'));
    if !named && !numeric {
        return None;
    }
    plain.parse().ok()
}

/// Seconds of `expr`, or why Authentik refuses it.
pub fn seconds(expr: &str) -> Result<f64, String> {
    let mut total = 0.0f64;
    let mut known = 0;
    for pair in expr.split(';') {
        let mut parts = pair.split('=');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "{pair:?} is not one `unit=number` pair (pairs are separated by `;`)"
            ));
        };
        let Some((_, unit)) = UNITS.iter().find(|(k, _)| *k == key.to_lowercase()) else {
            continue;
        };
        let v = python_float(value).ok_or_else(|| format!("{value:?} is not a number"))?;
        known += 1;
        total += v * unit;
    }
    if known == 0 {
        return Err(
            "no known unit (weeks, days, hours, minutes, seconds, milliseconds, microseconds)"
                .into(),
        );
    }
    if total.is_nan() {
        return Err("the duration is not a number".into());
    }
    if !total.is_finite() || total.abs() >= 1e9 * 86400.0 {
        return Err("the duration is beyond what Authentik can store (999999999 days)".into());
    }
    Ok(total)
}

/// The validator: a text [`seconds`] accepts.
pub fn authentik_duration() -> FnValidator {
    from_fn("Authentik's `unit=number;...` duration", |v, _| {
        let Some(text) = v.as_str() else {
            return Ok(());
        };
        seconds(text)
            .map(drop)
            .map_err(|why| format!("{text:?}: {why}. {FORM}"))
    })
}

/// The form Authentik takes, for error messages.
const FORM: &str = "Authentik takes `unit=number` pairs separated by `;`, e.g. \"hours=24\" or \"hours=1;minutes=30\".";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_timedelta_from_string_accepts() {
        assert_eq!(seconds("hours=24"), Ok(86400.0));
        assert_eq!(seconds("hours=1;minutes=2;seconds=3"), Ok(3723.0));
        for ok in [
            "HOURS=1",
            "days=1_0",
            "seconds= 5 ",
            "hours=1;colour=x",
            "weeks=-1",
            "minutes=1.5e1",
        ] {
            assert!(seconds(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_authentik_refuses() {
        for bad in [
            "",
            "24h",
            "hours",
            "hours=1=2",
            "hour=1",
            "hours=x",
            "hours=nan",
            "hours=1;",
            "hours=1__0",
            "hours=--1",
            "hours=inf",
            "days=1000000000",
            ";hours=1",
        ] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }
}
