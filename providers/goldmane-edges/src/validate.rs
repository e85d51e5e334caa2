//! Validation of every value a configuration hands to the provider: the
//! goldmane-specific rules, and the attribute validators the schemas attach
//! (the SDK runs them at validation, plan and read time, see
//! `tfplugin::validator`).
//!
//! Namespaces are checked against the Kubernetes namespace charset (RFC 1123
//! label) before anything reaches SQL. The checks are belt and braces: every
//! query also uses bind parameters, so a value that slipped through would be
//! matched literally, never executed.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tfplugin::duration;
use tfplugin::validator::{self, FnValidator};

/// Normalised Goldmane actions stored in `edge.action` (runbook, seeds/001 line 8330).
pub const ACTIONS: [&str; 4] = ["allow", "deny", "pass", "unspecified"];

static NAMESPACE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("namespace regex"));

/// True when `s` is a valid Kubernetes namespace name (≤ 63, RFC 1123 label).
pub fn is_namespace(s: &str) -> bool {
    s.len() <= 63 && NAMESPACE_RE.is_match(s)
}

/// Checks a namespace given in configuration; the error says why.
pub fn namespace(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a namespace name must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!(
            "namespace name {s:?} is {} bytes long; Kubernetes allows at most 63",
            s.len()
        ));
    }
    if !NAMESPACE_RE.is_match(s) {
        return Err(format!(
            "{s:?} is not a Kubernetes namespace name: use lower-case letters, digits and \
             '-', starting and ending with a letter or digit (regex \
             ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)"
        ));
    }
    Ok(())
}

/// Checks an action value.
pub fn action(s: &str) -> Result<(), String> {
    if ACTIONS.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "action {s:?} is not one of allow, deny, pass, unspecified"
        ))
    }
}

static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?(Z|[+-]\d{2}:\d{2})?)?$")
        .expect("date regex")
});

/// A lower bound on `first_seen`: a duration back from now, or a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    Ago(Duration),
    /// Date or timestamp text; PostgreSQL parses it (bound as a parameter).
    At(String),
}

/// Parses the `first_seen_since` grammar of the `homelab edges --new-since`
/// flag (seeds/001 lines 5630-5645): a duration or an ISO date/timestamp.
pub fn since(s: &str) -> Result<Since, String> {
    if let Ok(d) = duration::parse(s) {
        return Ok(Since::Ago(d));
    }
    if DATE_RE.is_match(s) {
        return Ok(Since::At(s.to_string()));
    }
    Err(format!(
        "{s:?} is neither a duration (24h, 7d, 30m) nor a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z])"
    ))
}

/// Validator: a Kubernetes namespace name (also on each element of a set,
/// with `tfplugin::validator::each`).
pub fn namespace_name() -> FnValidator {
    validator::from_fn("a Kubernetes namespace name", |v, _| match v.as_str() {
        Some(s) => namespace(s),
        None => Ok(()),
    })
    .summary("Invalid namespace name")
}

/// Validator: one of [`ACTIONS`].
pub fn action_name() -> FnValidator {
    validator::one_of(&ACTIONS)
}

/// Validator: a duration (`24h`, `7d`; see `tfplugin::duration`).
pub fn window() -> FnValidator {
    validator::duration().summary("Invalid duration")
}

/// Validator: the `first_seen_since` grammar ([`since`]).
pub fn time_bound() -> FnValidator {
    validator::from_fn("a duration or a date", |v, _| match v.as_str() {
        Some(s) => since(s).map(drop),
        None => Ok(()),
    })
    .summary("Invalid time bound")
}

/// Renders seconds as a short human duration (`3d 4h`), for error messages.
pub fn human(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        for ok in [
            "a",
            "immich",
            "kube-system",
            "pg-cluster-rw",
            "0x",
            &"a".repeat(63),
        ] {
            assert!(namespace(ok).is_ok(), "{ok}");
            assert!(is_namespace(ok));
        }
        for bad in [
            "",
            "-",
            "a-",
            "-a",
            "Global",
            "a_b",
            "a.b",
            "a b",
            "a'b",
            "a;b",
            "a\"b",
            "a'; DROP TABLE edge;--",
            "../x",
            "ünïcode",
            "a\u{0}b",
            &"a".repeat(64),
        ] {
            assert!(namespace(bad).is_err(), "{bad:?}");
            assert!(!is_namespace(bad));
        }
        assert!(namespace(&"a".repeat(64)).unwrap_err().contains("63"));
    }

    #[test]
    fn actions() {
        for a in ACTIONS {
            action(a).unwrap();
        }
        for bad in ["", "Allow", "drop", "allow;"] {
            assert!(action(bad).is_err());
        }
    }

    /// The grammar this provider documented before the SDK parser existed.
    #[test]
    fn durations() {
        let duration = duration::parse;
        assert_eq!(duration("90s").unwrap().as_secs(), 90);
        assert_eq!(duration("30m").unwrap().as_secs(), 1800);
        assert_eq!(duration("24h").unwrap().as_secs(), 86_400);
        assert_eq!(duration("7d").unwrap().as_secs(), 604_800);
        assert_eq!(duration("2w").unwrap().as_secs(), 1_209_600);
        for bad in [
            "",
            "h",
            "1y",
            "-1d",
            "1.5h",
            "1 h",
            "yesterday",
            "'; DROP",
            "99999999999999999999d",
        ] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn since_values() {
        assert_eq!(
            since("24h").unwrap(),
            Since::Ago(Duration::from_secs(86_400))
        );
        assert_eq!(since("2026-06-24").unwrap(), Since::At("2026-06-24".into()));
        since("2026-06-24T08:00:00Z").unwrap();
        since("2026-06-24 08:00").unwrap();
        for bad in ["yesterday", "1y", "'; DROP", "", "2026-06-24; select 1"] {
            assert!(since(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(59.0), "59s");
        assert_eq!(human(3600.0 * 5.0 + 120.0), "5h 2m");
        assert_eq!(human(86_400.0 * 3.0 + 3600.0 * 4.0), "3d 4h");
    }
}
