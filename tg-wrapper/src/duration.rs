//! Durations as Terraform writes them (`-lock-timeout=5m`): the same text
//! sets how long tg waits for a Tier-0 lock, so one `TG_LOCK_TIMEOUT` means
//! one thing for both tiers.

use std::time::Duration;

/// Parses `300ms`, `90s`, `5m`, `1h30m` or a bare `0`. Overflow and
/// unknown units are errors that quote the input.
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || format!("{text:?} is not a duration (e.g. 30s, 5m, 1h30m)");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u128 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let millis: u128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(millis)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= u128::from(u64::MAX))
            .ok_or_else(bad)?;
    }
    u64::try_from(total)
        .map(Duration::from_millis)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn terraform_forms() {
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "-5s",
            "1.5s",
            "99999999999999999999999h",
            "5m ",
        ] {
            if bad == "5m " {
                assert!(parse(bad).is_ok(), "surrounding blanks are trimmed");
                continue;
            }
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
