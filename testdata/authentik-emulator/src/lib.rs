//! An in-memory emulator of the part of Authentik's REST API (`/api/v3/`)
//! that the `authentik-forward-auth` provider uses, written from the
//! published OpenAPI document (`schema.yml`). No real Authentik can be run in
//! the test environment, so the provider's tests run against this instead.
//!
//! Covered (see `README.md` next to this crate for the full list):
//! list (with Authentik's `pagination` object, `page`/`page_size`, each
//! viewset's FilterSet, search and ordering), retrieve, create, PUT, PATCH and DELETE for
//! providers/proxy, core/applications (by slug), outposts/instances,
//! policies/bindings, policies/expression, core/groups, core/users and
//! flows/instances (by slug), replies with every field the OpenAPI
//! document requires; request-body validation as the serializers do
//! (types, blanks, slugs, durations, integer ranges, cross-field rules,
//! dangling references → 400 with field errors; unknown fields ignored and
//! recorded); Bearer tokens
//! (missing/invalid → 401, read-only token writing → 403); 5xx fault
//! injection, and rate limits (429/503 with `Retry-After` in seconds or as
//! an HTTP-date, counting clients that come back too early); answers held
//! back after the request was processed (`lost.rs`); the seeded embedded
//! outpost; last-write-wins on outposts (as
//! Authentik does: no ETag/version check on PUT/PATCH); cascades on delete;
//! test hooks to edit objects out of band (drift) and count requests; the
//! policy engine and `check_access` (`access.rs`).

pub mod access;
mod filters;
pub mod lost;
mod replies;
pub mod schema;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use lost::LostAnswer;
pub use replies::Include;
pub use store::{EMBEDDED_OUTPOST, Store};

/// The admin token the emulator accepts by default.
pub const DEFAULT_TOKEN: &str = "emulator-admin-token";
/// A token that may read but not write (→ 403 on writes).
pub const READONLY_TOKEN: &str = "emulator-readonly-token";

/// A server fault to inject: the next `count` requests whose method matches
/// (any when `None`) and whose path contains `path_contains` get `status`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Fault {
    pub method: Option<String>,
    pub path_contains: String,
    pub status: u16,
    pub count: u32,
}

/// An injected fault, with the `Retry-After` its answers carry when it is a
/// rate limit. `POST /_emulator/faults` takes the [`Fault`] fields plus an
/// optional `retry_after`.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Injected {
    #[serde(flatten)]
    pub fault: Fault,
    #[serde(default)]
    pub retry_after: Option<RetryAfter>,
}

/// The `Retry-After` a faulted answer carries, in either form RFC 9110
/// §10.2.3 allows; JSON `{"seconds": 2}` or `{"date_in": 2}`.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// `Retry-After: N` (delay-seconds).
    Seconds(u64),
    /// `Retry-After: <IMF-fixdate>`, this many seconds from now (the date
    /// has whole-second precision: the deadline is the date as written).
    DateIn(u64),
}

/// What the rate-limit faults saw: how many answers carried `Retry-After`,
/// and how many throttled requests were repeated (same method and path)
/// before the time their answer gave (a client not honouring the header).
/// Other requests meanwhile (parallel resources) are not retries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStats {
    pub limited: u64,
    pub early: u64,
}

/// Shared emulator state.
#[derive(Default)]
pub struct Inner {
    pub store: Store,
    pub faults: Vec<Injected>,
    /// Every API request received (hooks under `/_emulator/` not counted).
    pub requests: u64,
    /// Write requests (POST/PUT/PATCH/DELETE) received.
    pub writes: u64,
    pub rate_limits: RateLimitStats,
    /// Answers to hold back after processing (`lost.rs`).
    pub lost: Vec<LostAnswer>,
    /// How many answers were held back so far.
    pub answers_lost: u64,
    /// Throttled "METHOD path?query" → the time its answer said to come back.
    not_before: std::collections::BTreeMap<String, std::time::SystemTime>,
}

pub type Shared = Arc<Mutex<Inner>>;

/// A running emulator on 127.0.0.1; stops when dropped.
pub struct Emulator {
    pub addr: SocketAddr,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Starts on a free loopback port in a background thread.
    pub fn start() -> Emulator {
        Self::start_on("127.0.0.1:0".parse().expect("addr"))
    }

    pub fn start_on(bind: SocketAddr) -> Emulator {
        let shared: Shared = Arc::new(Mutex::new(Inner {
            store: Store::seeded(),
            ..Inner::default()
        }));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .expect("bind emulator");
                addr_tx.send(listener.local_addr().expect("addr")).ok();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        stop_rx.await.ok();
                    })
                    .await
                    .expect("emulator server");
            });
        });
        let addr = addr_rx.recv().expect("emulator started");
        Emulator {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:port`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs `f` on the state (test hook: drift, inspection, faults).
    pub fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.shared.lock().expect("emulator lock"))
    }

    pub fn inject(&self, fault: Fault) {
        self.with(|i| {
            i.faults.push(Injected {
                fault,
                retry_after: None,
            })
        });
    }

    /// A rate limit: `fault`'s answers carry `Retry-After`.
    pub fn inject_rate_limit(&self, fault: Fault, retry_after: RetryAfter) {
        self.with(|i| {
            i.faults.push(Injected {
                fault,
                retry_after: Some(retry_after),
            })
        });
    }

    /// Answers processed but delivered only after the client gave up.
    pub fn inject_lost_answer(&self, fault: LostAnswer) {
        self.with(|i| i.lost.push(fault));
    }

    /// What the rate-limit faults saw so far.
    pub fn rate_limit_stats(&self) -> RateLimitStats {
        self.with(|i| i.rate_limits)
    }

    /// (all requests, write requests) so far.
    pub fn request_counts(&self) -> (u64, u64) {
        self.with(|i| (i.requests, i.writes))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            s.send(()).ok();
        }
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

/// The axum app: everything goes through one dispatcher.
pub fn router(shared: Shared) -> Router {
    Router::new().fallback(deliver).with_state(shared)
}

/// Serves one request, holding its answer back when a lost-answer fault
/// matches (the request is processed all the same).
async fn deliver(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    query: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let hold = if uri.path().starts_with("/api/v3/") {
        let mut inner = shared.lock().expect("emulator lock");
        let hold = lost::take(&mut inner.lost, &method, uri.path());
        if hold.is_some() {
            inner.answers_lost += 1;
        }
        hold
    } else {
        None
    };
    let resp = dispatch(State(shared), method, uri, query, headers, body).await;
    if let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    resp
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn dispatch(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut inner = shared.lock().expect("emulator lock");
    if let Some(hook) = path.strip_prefix("/_emulator/") {
        return hooks(&mut inner, &method, hook, &body);
    }
    let Some(rest) = path.strip_prefix("/api/v3/") else {
        return reply(StatusCode::NOT_FOUND, json!({"detail": "Not found."}));
    };
    inner.requests += 1;
    let write = method != Method::GET;
    if write {
        inner.writes += 1;
    }
    let now = std::time::SystemTime::now();
    let request = format!("{method} {uri}");
    if let Some(until) = inner.not_before.remove(&request)
        && now < until
    {
        inner.rate_limits.early += 1;
    }
    if let Some(Injected { fault, retry_after }) = take_fault(&mut inner.faults, &method, &path) {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let Some(retry_after) = retry_after else {
            return reply(status, json!({"detail": "injected fault"}));
        };
        let (header, until) = retry_after_header(retry_after, now);
        inner.rate_limits.limited += 1;
        inner.not_before.insert(request, until);
        let mut resp = reply(status, json!({"detail": "Request was throttled."}));
        resp.headers_mut()
            .insert("retry-after", header.parse().expect("Retry-After is ASCII"));
        return resp;
    }
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "));
    match token {
        None => {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "Authentication credentials were not provided."}),
            );
        }
        Some(t) if t == READONLY_TOKEN => {
            if write {
                return reply(
                    StatusCode::FORBIDDEN,
                    json!({"detail": "You do not have permission to perform this action."}),
                );
            }
        }
        Some(t) if t == DEFAULT_TOKEN => {}
        Some(_) => {
            return reply(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "Token invalid/expired"}),
            );
        }
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return reply(
                    StatusCode::BAD_REQUEST,
                    json!({"detail": format!("JSON parse error - {e}")}),
                );
            }
        }
    };
    if method == Method::GET
        && let Some(slug) = access::check_access_slug(rest)
    {
        // The policies see this request as `request.http_request` (minus the token).
        let headers: Vec<(String, String)> = headers
            .iter()
            .filter(|(k, _)| *k != "authorization")
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let (status, body) =
            access::check_access(&inner.store, slug, query.as_deref().unwrap_or(""), &headers);
        return reply(status, body);
    }
    let (status, body) = inner
        .store
        .handle(&method, rest, query.as_deref().unwrap_or(""), body);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    reply(status, body)
}

/// The header value and the instant it names.
fn retry_after_header(
    r: RetryAfter,
    now: std::time::SystemTime,
) -> (String, std::time::SystemTime) {
    match r {
        RetryAfter::Seconds(n) => (n.to_string(), now + std::time::Duration::from_secs(n)),
        RetryAfter::DateIn(n) => {
            let at = time::OffsetDateTime::from(now + std::time::Duration::from_secs(n))
                .replace_nanosecond(0)
                .expect("0 ns is valid");
            let f = time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            );
            (at.format(f).expect("IMF-fixdate"), at.into())
        }
    }
}

fn take_fault(faults: &mut Vec<Injected>, method: &Method, path: &str) -> Option<Injected> {
    let i = faults.iter().position(|Injected { fault: f, .. }| {
        f.count > 0
            && path.contains(&f.path_contains)
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
    })?;
    faults[i].fault.count -= 1;
    let fault = faults[i].clone();
    if faults[i].fault.count == 0 {
        faults.remove(i);
    }
    Some(fault)
}

/// Test hooks for out-of-process use (the demo and the benchmark):
/// `GET /_emulator/stats`, `POST /_emulator/reset-stats`,
/// `POST /_emulator/faults` (an [`Injected`]), `GET /_emulator/dump`.
fn hooks(inner: &mut Inner, method: &Method, hook: &str, body: &[u8]) -> Response {
    match (method.as_str(), hook.trim_end_matches('/')) {
        ("GET", "stats") => reply(
            StatusCode::OK,
            json!({
                "requests": inner.requests,
                "writes": inner.writes,
                "rate_limited": inner.rate_limits.limited,
                "early_retries": inner.rate_limits.early,
                "ignored_fields": inner.store.ignored_fields,
                "coerced_fields": inner.store.coerced_fields,
            }),
        ),
        ("POST", "reset-stats") => {
            inner.requests = 0;
            inner.writes = 0;
            reply(StatusCode::OK, json!({}))
        }
        ("POST", "faults") => match serde_json::from_slice::<Injected>(body) {
            Ok(f) => {
                inner.faults.push(f);
                reply(StatusCode::OK, json!({}))
            }
            Err(e) => reply(StatusCode::BAD_REQUEST, json!({"detail": e.to_string()})),
        },
        ("GET", "dump") => reply(StatusCode::OK, inner.store.dump()),
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"detail": "unknown emulator hook"}),
        ),
    }
}
