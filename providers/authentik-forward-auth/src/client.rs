//! A small blocking client for Authentik's `/api/v3/`: Bearer auth (the token
//! is never logged or put in errors), JSON bodies, pagination, and retries of
//! transient failures only (connection errors, 502/503/504, and 500 on
//! idempotent methods) with exponential backoff. Rate limits (429, and 503
//! with `Retry-After`) are retried for every method after the wait the
//! server asks for, within [`RATE_LIMIT_BUDGET`]: a throttled request was
//! not processed, so repeating even a POST creates nothing twice.

use std::time::{Duration, SystemTime};

use infra_clients::retry::{Backoff, Verdict, retry_after};
use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// All the waiting one request may do between its attempts (backoff and
/// `Retry-After` together). A server asking for longer is reported at once
/// rather than holding a `terraform plan` for it.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(60);

/// Connection settings for [`Api::new`].
#[derive(Clone)]
pub struct Settings {
    pub url: String,
    pub token: String,
    pub insecure: bool,
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    pub retries: u32,
    pub backoff: Duration,
}

/// What went wrong talking to Authentik, naming the object concerned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "{what}: Authentik rejected the API token (HTTP {status}: {detail}); check the provider's `token` / AUTHENTIK_TOKEN"
    )]
    Auth {
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{what}: not found in Authentik")]
    NotFound { what: String },
    #[error("{what}: Authentik refused the request (HTTP 400): {detail}")]
    Invalid { what: String, detail: String },
    #[error(
        "{what}: Authentik is rate limiting this client (HTTP {status}{}) and still was after {attempts} attempt(s){}; lower the request rate (fewer parallel resources: terraform -parallelism) or raise the server's limit",
        asked.map(|a| format!(", Retry-After {}s", a.as_secs())).unwrap_or_default(),
        if *refused { format!(": the wait it asked for is more than the {}s this provider waits per request", RATE_LIMIT_BUDGET.as_secs()) } else { String::new() }
    )]
    RateLimited {
        what: String,
        status: u16,
        attempts: u32,
        /// The last `Retry-After` (None: absent or unusable).
        asked: Option<Duration>,
        /// The loop stopped because `asked` did not fit in the budget.
        refused: bool,
    },
    #[error("{what}: Authentik answered HTTP {status} after {attempts} attempt(s): {detail}")]
    Status {
        what: String,
        status: u16,
        attempts: u32,
        detail: String,
    },
    #[error("{what}: cannot reach Authentik at {url} after {attempts} attempt(s): {cause}")]
    Transport {
        what: String,
        url: String,
        attempts: u32,
        cause: String,
    },
}

impl ApiError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound { .. })
    }
}

/// The API handle.
pub struct Api {
    base: String,
    auth_header: String,
    http: Client,
    backoff: Backoff,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

fn trimmed_body(resp: Response) -> String {
    let text = resp.text().unwrap_or_default();
    let mut t: String = text.chars().take(500).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    t
}

impl Api {
    pub fn new(s: &Settings) -> Result<Api, String> {
        let mut b = Client::builder()
            .timeout(s.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(s.insecure);
        if let Some(pem) = &s.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("ca_cert_file is not a PEM certificate: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        let http = b
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Api {
            base: format!("{}/api/v3/", s.url.trim_end_matches('/')),
            auth_header: format!("Bearer {}", s.token),
            http,
            backoff: Backoff {
                retries: s.retries,
                base: s.backoff,
                max_wait: RATE_LIMIT_BUDGET,
            },
        })
    }

    /// Sends one request (path relative to `/api/v3/`), retrying transient
    /// failures; `what` names the object for error messages.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, ApiError> {
        self.send_with(method, path, body, what, false)
    }

    /// [`send`](Api::send); with `once`, a request that may have reached
    /// the server (reset or timeout after sending, any 5xx) is not sent
    /// again, whatever its method. A request that never connected, or that
    /// was rate limited, was not processed and is always sent again.
    fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
        once: bool,
    ) -> Result<Value, ApiError> {
        let url = format!("{}{}", self.base, path);
        let idempotent = !once && method != Method::POST;
        let finished = self.backoff.run_limited(
            |_| {
                let mut req = self
                    .http
                    .request(method.clone(), &url)
                    .header("Authorization", &self.auth_header);
                if let Some(b) = body {
                    req = req.json(b);
                }
                req.send()
            },
            |r| match r {
                // A request that never connected is safe to retry for any method.
                Err(e) if idempotent || e.is_connect() => Verdict::Transient,
                Err(_) => Verdict::Done,
                Ok(resp) => match resp.status().as_u16() {
                    429 => Verdict::RateLimited(asked_wait(resp)),
                    503 => match asked_wait(resp) {
                        Some(wait) => Verdict::RateLimited(Some(wait)),
                        None if !once => Verdict::Transient,
                        None => Verdict::Done,
                    },
                    502 | 504 if !once => Verdict::Transient,
                    500 if idempotent => Verdict::Transient,
                    _ => Verdict::Done,
                },
            },
        );
        let attempts = finished.attempts;
        let resp = finished.result.map_err(|e| ApiError::Transport {
            what: what.into(),
            url: self.base.clone(),
            attempts,
            cause: std::error::Error::source(&e)
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string()),
        })?;
        let status = resp.status().as_u16();
        let asked = asked_wait(&resp);
        if status == 429 || (status == 503 && asked.is_some()) {
            return Err(ApiError::RateLimited {
                what: what.into(),
                status,
                attempts,
                asked,
                refused: finished.refused_wait.is_some(),
            });
        }
        match status {
            204 => Ok(Value::Null),
            200..=299 => resp.json::<Value>().map_err(|e| ApiError::Status {
                what: what.into(),
                status,
                attempts,
                detail: format!("response is not JSON: {e}"),
            }),
            401 | 403 => Err(ApiError::Auth {
                what: what.into(),
                status,
                detail: trimmed_body(resp),
            }),
            404 => Err(ApiError::NotFound { what: what.into() }),
            400 => Err(ApiError::Invalid {
                what: what.into(),
                detail: trimmed_body(resp),
            }),
            _ => Err(ApiError::Status {
                what: what.into(),
                status,
                attempts,
                detail: trimmed_body(resp),
            }),
        }
    }

    pub fn get(&self, path: &str, what: &str) -> Result<Value, ApiError> {
        self.send(Method::GET, path, None, what)
    }

    /// GET that maps 404 to `None`.
    pub fn get_opt(&self, path: &str, what: &str) -> Result<Option<Value>, ApiError> {
        match self.get(path, what) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn post(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        self.send(Method::POST, path, Some(body), what)
    }

    pub fn patch(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        self.send(Method::PATCH, path, Some(body), what)
    }

    /// PATCH of a value computed from an earlier read (a read-modify-write),
    /// never sent again once it may have reached the server: repeated after
    /// a 5xx, reset or timeout, it would carry what was read before and undo
    /// whatever another writer wrote in between. The caller re-reads and
    /// recomputes instead (see `outpost::set_membership`).
    pub fn patch_once(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        self.send_with(Method::PATCH, path, Some(body), what, true)
    }

    /// DELETE; an object already gone counts as deleted.
    pub fn delete(&self, path: &str, what: &str) -> Result<(), ApiError> {
        match self.send(Method::DELETE, path, None, what) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every result of a list endpoint, following Authentik's `pagination.next`.
    /// `query` is already URL-encoded (`name=x&...`).
    pub fn list(&self, collection: &str, query: &str, what: &str) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        let mut page = 1u64;
        loop {
            let sep = if query.is_empty() { "" } else { "&" };
            let v = self.get(
                &format!("{collection}?{query}{sep}page={page}&page_size=100"),
                what,
            )?;
            if let Some(items) = v["results"].as_array() {
                out.extend(items.iter().cloned());
            }
            match v["pagination"]["next"].as_u64() {
                Some(n) if n > page => page = n,
                _ => return Ok(out),
            }
        }
    }
}

/// The wait a response's `Retry-After` asks for, if it has a usable one.
fn asked_wait(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    retry_after(v.to_str().ok()?, SystemTime::now())
}

/// Percent-encodes a query or path value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let api = Api::new(&Settings {
            url: "http://127.0.0.1:1".into(),
            token: "s3cret-token".into(),
            insecure: false,
            ca_pem: None,
            timeout: Duration::from_secs(1),
            retries: 0,
            backoff: Duration::from_millis(1),
        })
        .unwrap();
        assert!(!format!("{api:?}").contains("s3cret"));
        let err = api.get("core/users/", "user list").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(
            err.to_string()
                .starts_with("user list: cannot reach Authentik"),
            "{err}"
        );
        assert_eq!(enc("a b/ü"), "a%20b%2F%C3%BC");
    }
}
