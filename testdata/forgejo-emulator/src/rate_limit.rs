//! Rate-limit fault mode: the next N requests matching a prefix answer 429
//! or 503 with `Retry-After` (delay-seconds or an IMF-fixdate, the two forms
//! RFC 9110 §10.2.3 allows), as a reverse proxy in front of Forgejo would.
//! A throttled request repeated (same method and path) before the time its
//! answer gave is counted as early: a client that honours the header keeps
//! that count at zero. Other requests in flight meanwhile (parallel manifest
//! reads) are not retries and are not counted. Runs as a layer in front of every route, so throttled
//! requests never reach the routes (nor their request log).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Emulator;

/// The `Retry-After` of a rate-limit answer.
#[derive(Debug, Clone, Copy)]
pub enum RetryAfter {
    /// `Retry-After: N`.
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>`, this many seconds from now; the date
    /// has whole-second precision and the deadline is the date as written.
    DateIn(u64),
}

/// Pending rate-limit answers and what they saw.
#[derive(Debug, Default)]
pub struct RateLimits {
    /// ("METHOD /path" prefix, status, Retry-After), used in order.
    pending: Vec<(String, u16, RetryAfter)>,
    /// Throttled "METHOD /path" → the time its answer said to come back.
    not_before: BTreeMap<String, SystemTime>,
    /// Answers that carried `Retry-After`.
    pub limited: usize,
    /// Requests that came back before the time they were given.
    pub early: usize,
}

impl RetryAfter {
    /// The header value and the instant it names.
    fn header(self, now: SystemTime) -> (String, SystemTime) {
        match self {
            RetryAfter::Seconds(n) => (n.to_string(), now + Duration::from_secs(n)),
            RetryAfter::DateIn(n) => {
                let at = time::OffsetDateTime::from(now + Duration::from_secs(n))
                    .replace_nanosecond(0)
                    .expect("0 ns is valid");
                let f = time::macros::format_description!(
                    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
                );
                (at.format(f).expect("IMF-fixdate"), at.into())
            }
        }
    }
}

impl Emulator {
    /// The next `count` requests whose "METHOD /path" starts with `prefix`
    /// answer `status` with `retry_after`.
    pub fn inject_rate_limit(
        &self,
        prefix: &str,
        status: u16,
        count: usize,
        retry_after: RetryAfter,
    ) {
        let mut s = self.store.lock().expect("store");
        s.rate_limits
            .pending
            .extend((0..count).map(|_| (prefix.to_string(), status, retry_after)));
    }

    /// (answers that carried `Retry-After`, requests that came back early).
    pub fn rate_limit_stats(&self) -> (usize, usize) {
        let s = self.store.lock().expect("store");
        (s.rate_limits.limited, s.rate_limits.early)
    }
}

/// The layer: answers a pending rate limit, or passes the request on.
pub async fn layer(State(emu): State<Emulator>, req: Request, next: Next) -> Response {
    let request = format!("{} {}", req.method(), req.uri().path());
    let now = SystemTime::now();
    let answer = {
        let mut s = emu.store.lock().expect("store");
        let r = &mut s.rate_limits;
        if let Some(until) = r.not_before.remove(&request)
            && now < until
        {
            r.early += 1;
        }
        r.pending
            .iter()
            .position(|(p, _, _)| request.starts_with(p.as_str()))
            .map(|i| {
                let (_, status, retry_after) = r.pending.remove(i);
                let (header, until) = retry_after.header(now);
                r.limited += 1;
                r.not_before.insert(request.clone(), until);
                (status, header)
            })
    };
    let Some((status, header)) = answer else {
        return next.run(req).await;
    };
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS),
        "rate limited",
    )
        .into_response();
    resp.headers_mut().insert(
        "retry-after",
        HeaderValue::from_str(&header).expect("Retry-After is ASCII"),
    );
    resp
}
