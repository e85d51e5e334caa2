//! Arbitrary-precision decimal numbers, kept as canonical text.
//!
//! Why text and not a float: Terraform numbers are arbitrary-precision
//! decimals (cty uses big.Float), and state must round-trip exactly. Why
//! canonical: `100`, `1e2`, `100.0` and `1.00E+2` are the same number and must
//! compare equal, or a config written one way and state read back another
//! way would show a diff.

use std::fmt;

/// Beyond this many zeros (trailing zeros of an integer, or leading zeros
/// after the point) the canonical text switches to exponent form, so a
/// hostile `1e1000000000` never expands into a gigabyte of zeros.
const MAX_PLAIN_ZEROS: u64 = 64;

/// An arbitrary-precision decimal. The text is canonical: two numbers are
/// equal exactly when their texts are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// Parses decimal text (`-12`, `3.25`, `1e400`, `1.5E+3`); returns None
    /// for non-numbers and for exponents beyond ±2^62.
    pub fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits_ok(int) || !digits_ok(frac) {
            return None;
        }
        let exp: i64 = match exp {
            Some(e) => {
                let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
                if unsigned.is_empty() || !digits_ok(unsigned) {
                    return None;
                }
                let e = e.strip_prefix('+').unwrap_or(e);
                e.parse()
                    .ok()
                    .filter(|e: &i64| e.unsigned_abs() <= 1 << 62)?
            }
            None => 0,
        };
        let all: String = [int, frac].concat();
        let significant = all.trim_start_matches('0');
        let kept = significant.trim_end_matches('0');
        if kept.is_empty() {
            return Some(Number("0".into()));
        }
        // value = kept × 10^scale
        let trailing = (significant.len() - kept.len()) as i64;
        let scale = exp - frac.len() as i64 + trailing;
        Some(Number(render(neg, kept, scale)))
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }

    pub fn from_f64(f: f64) -> Option<Number> {
        if f.is_finite() {
            Number::parse(&format!("{f}"))
        } else {
            None
        }
    }

    /// The canonical text (valid JSON number syntax).
    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

/// The canonical text of `±digits × 10^scale` (`digits` without leading or
/// trailing zeros): plain decimal notation (`1500`, `0.015`) unless that
/// needs more than [`MAX_PLAIN_ZEROS`] zeros, then `digits` `e` `scale`.
fn render(neg: bool, digits: &str, scale: i64) -> String {
    let sign = if neg { "-" } else { "" };
    let n = digits.len() as u64;
    if scale >= 0 {
        if scale.unsigned_abs() <= MAX_PLAIN_ZEROS {
            return format!("{sign}{digits}{}", "0".repeat(scale as usize));
        }
    } else {
        let frac = scale.unsigned_abs();
        if frac < n {
            let (i, f) = digits.split_at((n - frac) as usize);
            return format!("{sign}{i}.{f}");
        }
        if frac - n <= MAX_PLAIN_ZEROS {
            return format!("{sign}0.{}{digits}", "0".repeat((frac - n) as usize));
        }
    }
    format!("{sign}{digits}e{scale}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        Number::parse(s).expect(s).to_string()
    }

    #[test]
    fn equal_numbers_have_one_text() {
        for same in [
            "100", "1e2", "1E2", "1e+2", "100.0", "0100", "1.00E+2", "10000e-2",
        ] {
            assert_eq!(text(same), "100", "{same}");
        }
        assert_eq!(Number::parse("1e2"), Number::parse("100"));
        assert_eq!(text("0.015"), "0.015");
        assert_eq!(text("15e-3"), "0.015");
        assert_eq!(text("-0"), "0");
        assert_eq!(text("-0.0e5"), "0");
        assert_eq!(text("-2.50"), "-2.5");
        assert_eq!(text(".5"), "0.5");
        assert_eq!(text("5."), "5");
    }

    #[test]
    fn huge_exponents_stay_short() {
        assert_eq!(text("1e400"), "1e400");
        assert_eq!(text("10e399"), "1e400");
        assert_eq!(text("-1.5e-401"), "-15e-402");
        assert_eq!(text("1e1000000000000"), "1e1000000000000");
        assert!(Number::parse("1e99999999999999999999").is_none());
        let plain = text("1e64");
        assert_eq!(plain.len(), 65);
        assert_eq!(text("1e65"), "1e65");
        // Exponent forms are valid JSON numbers and parse as floats.
        for t in ["1e400", "-15e-402"] {
            serde_json::from_str::<serde_json::Value>(&text(t)).expect(t);
            assert!(Number::parse(t).unwrap().as_f64().is_some());
        }
    }

    #[test]
    fn floats_canonicalise_like_text() {
        assert_eq!(Number::from_f64(1e300), Number::parse("1e300"));
        assert_eq!(Number::from_f64(0.1), Number::parse("0.1"));
        assert_eq!(Number::from_f64(-0.0), Number::parse("0"));
        assert!(Number::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "+1", "1.2.3", "abc", "1_000", "0x10", "1e2.5",
        ] {
            assert!(Number::parse(bad).is_none(), "{bad:?}");
        }
    }
}
