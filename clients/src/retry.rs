//! Transient-only retries with exponential backoff, for providers' API
//! clients. The caller decides what is transient (a 5xx, a connection that
//! never opened); everything else is returned at once, so a real error
//! (401, 403, 404, a validation error) is never retried or masked.
//!
//! Rate limits (HTTP 429, and 503 with a `Retry-After`) are retried too, but
//! only after the wait the server asked for, and only within a total wait
//! budget: a server asking for more than the budget left ends the loop at
//! once, so the caller can report the rate limit instead of sleeping for an
//! hour inside a `terraform plan`.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::macros::format_description;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Retries after the first attempt (0 = one attempt only).
    pub retries: u32,
    /// Sleep before the first retry; doubled for each further one (capped at 64×).
    pub base: Duration,
    /// Total time all sleeps of one [`Backoff::run_limited`] call may add up to.
    pub max_wait: Duration,
}

/// The largest `Retry-After` [`retry_after`] returns: anything longer (a
/// hostile `99999999999999999999`, a date in year 9999) is clamped here so
/// later arithmetic never overflows; every caller's budget is far below it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What one attempt's result means for [`Backoff::run_limited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Final: success or a permanent error.
    Done,
    /// Worth another attempt after the exponential backoff.
    Transient,
    /// The server is rate limiting; `Some` is the wait it asked for
    /// (`Retry-After`), `None` falls back to the exponential backoff.
    RateLimited(Option<Duration>),
}

/// The outcome of [`Backoff::run_limited`].
#[derive(Debug)]
pub struct Finished<T> {
    /// The last attempt's result.
    pub result: T,
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Set when the loop stopped because the server asked to wait longer
    /// than the budget left: the wait it asked for.
    pub refused_wait: Option<Duration>,
}

impl Backoff {
    /// Calls `attempt(n)` (n = 1, 2, …) until `transient` says its result is
    /// final or the retries are used up; returns the last result and the
    /// number of attempts made.
    pub fn run<T>(
        &self,
        attempt: impl FnMut(u32) -> T,
        transient: impl Fn(&T) -> bool,
    ) -> (T, u32) {
        let f = self.run_limited(attempt, |r| {
            if transient(r) {
                Verdict::Transient
            } else {
                Verdict::Done
            }
        });
        (f.result, f.attempts)
    }

    /// Like [`Backoff::run`], with rate limits: a `RateLimited(Some(wait))`
    /// result is retried after exactly that wait (never earlier), the others
    /// after the exponential backoff. Bounded twice: by `retries`, and by
    /// `max_wait` for all sleeps together (a wait that does not fit in what
    /// is left ends the loop, reported in [`Finished::refused_wait`]).
    pub fn run_limited<T>(
        &self,
        mut attempt: impl FnMut(u32) -> T,
        classify: impl Fn(&T) -> Verdict,
    ) -> Finished<T> {
        let mut n = 1;
        let mut waited = Duration::ZERO;
        loop {
            let result = attempt(n);
            let wait = match classify(&result) {
                Verdict::Done => None,
                Verdict::RateLimited(Some(asked)) => Some((asked, true)),
                Verdict::Transient | Verdict::RateLimited(None) => {
                    Some((self.base * (1u32 << (n - 1).min(6)), false))
                }
            };
            let Some((wait, asked)) = wait else {
                return Finished {
                    result,
                    attempts: n,
                    refused_wait: None,
                };
            };
            if n > self.retries {
                return Finished {
                    result,
                    attempts: n,
                    refused_wait: None,
                };
            }
            let left = self.max_wait.saturating_sub(waited);
            if wait > left {
                return Finished {
                    result,
                    attempts: n,
                    refused_wait: asked.then_some(wait),
                };
            }
            std::thread::sleep(wait);
            waited += wait;
            n += 1;
        }
    }
}

/// The wait a `Retry-After` header value asks for (RFC 9110 §10.2.3):
/// `delay-seconds` (`1*DIGIT`) or an HTTP-date (§5.6.7: IMF-fixdate, and the
/// obsolete RFC 850 and asctime forms recipients must accept), measured from
/// `now`. A date in the past means no wait. `None` for anything else (a
/// negative or fractional number, garbage, an impossible date): the caller
/// then falls back to its own backoff. Clamped to [`MAX_RETRY_AFTER`].
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim_matches([' ', '\t']);
    if v.is_empty() {
        return None;
    }
    let wait = if v.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only too many of them fails to parse; that is "huge".
        v.parse::<u64>()
            .map_or(MAX_RETRY_AFTER, Duration::from_secs)
    } else {
        let now = OffsetDateTime::from(now);
        let at = http_date(v, now.year())?;
        let secs = (at - now).whole_seconds();
        // Whole seconds, rounded up, so a retry never comes before the date.
        let late = (at - now) > time::Duration::seconds(secs);
        Duration::from_secs(u64::try_from(secs + i64::from(late)).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses the three HTTP-date forms of RFC 9110 §5.6.7, all in GMT;
/// `this_year` places RFC 850's two-digit years.
fn http_date(v: &str, this_year: i32) -> Option<OffsetDateTime> {
    let imf = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let asctime = format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"
    );
    let parse = |s: &str, f: &[time::format_description::BorrowedFormatItem<'_>]| {
        time::PrimitiveDateTime::parse(s, f)
            .ok()
            .map(|t| t.assume_utc())
    };
    parse(v, imf)
        .or_else(|| parse(v, asctime))
        .or_else(|| rfc850(v, this_year))
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`: a two-digit year more than 50 years in
/// the future means the most recent past year with those digits (§5.6.7).
fn rfc850(v: &str, this_year: i32) -> Option<OffsetDateTime> {
    let (weekday, rest) = v.split_once(", ")?;
    let (date, rest) = rest.split_once(' ')?;
    let mut parts = date.split('-');
    let (day, month, yy) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || yy.len() != 2 || !yy.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = yy.parse().ok()?;
    let mut year = this_year - this_year.rem_euclid(100) + yy;
    if year > this_year + 50 {
        year -= 100;
    }
    let full = format!("{weekday}, {day}-{month}-{year} {rest}");
    let f = format_description!(
        "[weekday repr:long], [day]-[month repr:short]-[year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(&full, f)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero(retries: u32) -> Backoff {
        Backoff {
            retries,
            base: Duration::ZERO,
            max_wait: Duration::from_secs(60),
        }
    }

    #[test]
    fn retries_only_transient_results_and_counts_attempts() {
        let b = zero(3);
        let (out, n) = b.run(|n| if n < 3 { 503 } else { 200 }, |s| *s >= 500);
        assert_eq!((out, n), (200, 3));
        let (out, n) = b.run(|_| 403, |s| *s >= 500);
        assert_eq!((out, n), (403, 1), "a permanent error is returned at once");
        let (out, n) = b.run(|_| 500, |s| *s >= 500);
        assert_eq!((out, n), (500, 4), "gives up after the retries");
    }

    #[test]
    fn a_wait_beyond_the_budget_stops_at_once_and_says_what_was_asked() {
        let b = Backoff {
            retries: 5,
            base: Duration::ZERO,
            max_wait: Duration::from_secs(30),
        };
        let f = b.run_limited(
            |_| 429,
            |_| Verdict::RateLimited(Some(Duration::from_secs(3600))),
        );
        assert_eq!((f.result, f.attempts), (429, 1));
        assert_eq!(f.refused_wait, Some(Duration::from_secs(3600)));
        // Rate limits without a usable header use the backoff and the retry count.
        let f = b.run_limited(|_| 429, |_| Verdict::RateLimited(None));
        assert_eq!((f.attempts, f.refused_wait), (6, None));
        // A zero wait is honoured and counted like any other.
        let f = b.run_limited(
            |n| if n < 3 { 429 } else { 200 },
            |s| {
                if *s == 429 {
                    Verdict::RateLimited(Some(Duration::ZERO))
                } else {
                    Verdict::Done
                }
            },
        );
        assert_eq!((f.result, f.attempts, f.refused_wait), (200, 3, None));
    }

    #[test]
    fn backoff_sleeps_count_against_the_budget() {
        let b = Backoff {
            retries: 10,
            base: Duration::from_millis(1),
            max_wait: Duration::from_millis(3),
        };
        // Sleeps 1 + 2 = 3 ms; the next (4 ms) does not fit.
        let f = b.run_limited(|_| 503, |_| Verdict::Transient);
        assert_eq!((f.attempts, f.refused_wait), (3, None));
    }

    fn at(s: &str) -> SystemTime {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .into()
    }

    #[test]
    fn retry_after_seconds_and_the_three_date_forms() {
        let now = at("1994-11-06T08:49:30Z");
        let s = Duration::from_secs;
        assert_eq!(retry_after("120", now), Some(s(120)));
        assert_eq!(retry_after(" 0 ", now), Some(s(0)));
        assert_eq!(retry_after("0007", now), Some(s(7)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(s(7))
        );
        assert_eq!(
            retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            Some(s(7))
        );
        assert_eq!(retry_after("Sun Nov  6 08:49:37 1994", now), Some(s(7)));
        // A date in the past: retry now.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(s(0))
        );
        // Sub-second "now" rounds the wait up, never down.
        let later = now + Duration::from_millis(300);
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later),
            Some(s(7))
        );
    }

    #[test]
    fn hostile_retry_after_values_are_refused_or_clamped() {
        let now = at("2026-12-06T00:00:00Z");
        for bad in [
            "",
            "   ",
            "-5",
            "+5",
            "1.5",
            "1e3",
            "5 s",
            "0x10",
            "soon",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 +0000",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT; x",
            "Sun, 06 Nov 1994\n08:49:37 GMT",
            "１２",
        ] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(retry_after("86401", now), Some(MAX_RETRY_AFTER));
        // RFC 850 two-digit years: up to 50 years ahead of `now`, else the past.
        assert_eq!(
            retry_after("Wednesday, 01-Jan-70 00:00:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            retry_after("Saturday, 01-Jan-77 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
    }
}
