//! Durations as our providers accept them in configuration: one whole
//! number and one unit, `90s`, `30m`, `24h`, `7d`, `2w`.
//!
//! Not Go's `time.ParseDuration` grammar (no `1h30m`, no fractions, no `ms`):
//! this is the grammar the providers documented and accepted before the SDK
//! had a parser, kept so no configuration changes meaning. Days and weeks are
//! fixed 86,400 s and 604,800 s.

use std::time::Duration;

/// The longest duration accepted: anything past a century is a typo, and the
/// cap keeps interval arithmetic (timestamps ± duration) far from overflow.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Parses `<digits><unit>` with unit `s`, `m`, `h`, `d` or `w`; the error
/// names the input and the accepted grammar.
pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "{s:?} is not a duration: write a whole number followed by s, m, h, d or w (e.g. 24h, 7d)"
        )
    };
    let unit = s.chars().last().ok_or_else(bad)?;
    let digits = &s[..s.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let too_long = || format!("duration {s:?} is longer than 100 years");
    // All digits: the only parse failure left is overflow.
    let n: u64 = digits.parse().map_err(|_| too_long())?;
    let unit_secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(bad()),
    };
    match n.checked_mul(unit_secs).map(Duration::from_secs) {
        Some(d) if d <= MAX => Ok(d),
        _ => Err(too_long()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_with_one_unit() {
        assert_eq!(parse("0s").unwrap().as_secs(), 0);
        assert_eq!(parse("90s").unwrap().as_secs(), 90);
        assert_eq!(parse("30m").unwrap().as_secs(), 1800);
        assert_eq!(parse("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse("7d").unwrap().as_secs(), 604_800);
        assert_eq!(parse("2w").unwrap().as_secs(), 1_209_600);
        assert_eq!(parse("36500d").unwrap(), MAX);
    }

    #[test]
    fn everything_else_is_refused_with_the_reason() {
        for bad in [
            "",
            "h",
            "1y",
            "-1d",
            "1.5h",
            "1 h",
            "1h30m",
            "10ms",
            "yesterday",
            "'; DROP",
            "٣d",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("is not a duration"), "{bad:?}: {e}");
        }
        // Overflow of the number, of the multiplication, and past the cap.
        for long in ["99999999999999999999d", "30500568904943w", "36501d"] {
            let e = parse(long).expect_err(long);
            assert!(e.contains("longer than 100 years"), "{long:?}: {e}");
        }
    }
}
