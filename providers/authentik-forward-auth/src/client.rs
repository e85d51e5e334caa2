//! Authentik's `/api/v3/` as this provider speaks it, on the shared
//! [`RestClient`] (Bearer token in a sensitive header that never reaches an
//! error, custom CA, no redirects): errors worded for Authentik and naming
//! the object concerned ([`ApiError`]), pagination, and which requests may
//! be sent again.
//!
//! Retries are of transient failures only, with exponential backoff:
//! - a connection that never opened, for every method (the server saw
//!   nothing);
//! - rate limits (429, and 503 with `Retry-After`) for every method, after
//!   the wait the server asks for, within [`RATE_LIMIT_BUDGET`]: a
//!   throttled request was not processed, so repeating even a POST creates
//!   nothing twice;
//! - a gateway's 502/504 and a 503 without `Retry-After` for every method
//!   (Authentik's server answers none of them itself: the request did not
//!   reach it);
//! - resets, timeouts and the other 5xx for GET, PATCH (each sets fields to
//!   fixed values) and DELETE only.
//!
//! [`Api::patch_once`] is the exception: a read-modify-write whose body was
//! computed from an earlier read is never sent again once it may have
//! reached the server (see `outpost::set_membership`).

use std::time::Duration;

use infra_clients::rest::{Auth, Config, Request, RestClient, RestError};
use infra_clients::retry::Backoff;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::Value;
use tfplugin::diag::Diagnostics;

/// All the waiting one request may do between its attempts (backoff and
/// `Retry-After` together). A server asking for longer is reported at once
/// rather than holding a `terraform plan` for it.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(60);

/// Statuses retried for a POST too: answered by a gateway in front of
/// Authentik when the request did not reach it.
const GATEWAY_STATUSES: [u16; 3] = [502, 503, 504];

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

    /// Whether the request may have been processed though no success came
    /// back (5xx, reset or timeout after sending): its effect is learnt by
    /// reading again.
    pub fn is_uncertain(&self) -> bool {
        match self {
            ApiError::Transport { .. } => true,
            ApiError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Authentik's wording of a client error; `base` is the API's base URL.
    fn from_rest(e: RestError, base: &str) -> ApiError {
        match e {
            RestError::Transport {
                what,
                attempts,
                cause,
                ..
            } => ApiError::Transport {
                what,
                url: base.to_string(),
                attempts,
                cause,
            },
            RestError::RateLimited {
                what,
                status,
                attempts,
                asked,
                refused,
            } => ApiError::RateLimited {
                what,
                status,
                attempts,
                asked,
                refused,
            },
            RestError::Status {
                what,
                status: status @ (401 | 403),
                body,
                ..
            } => ApiError::Auth {
                what,
                status,
                detail: body,
            },
            RestError::Status {
                what, status: 404, ..
            } => ApiError::NotFound { what },
            RestError::Status {
                what,
                status: 400,
                body,
                ..
            } => ApiError::Invalid { what, detail: body },
            RestError::Status {
                what,
                status,
                attempts,
                body,
            } => ApiError::Status {
                what,
                status,
                attempts,
                detail: body,
            },
            RestError::Decode {
                what,
                status,
                cause,
            } => ApiError::Status {
                what,
                status,
                attempts: 1,
                detail: format!("response is not JSON: {cause}"),
            },
            RestError::Setup(why) => ApiError::Transport {
                what: "request".into(),
                url: base.to_string(),
                attempts: 0,
                cause: why,
            },
        }
    }
}

/// An API error as a Terraform diagnostic.
pub fn api_diag(summary: &str, e: ApiError) -> Diagnostics {
    Diagnostics::error(summary, e.to_string())
}

/// A string field of an API object, or "".
pub fn js(v: &Value, f: &str) -> String {
    v[f].as_str().unwrap_or_default().to_string()
}

/// The API handle.
pub struct Api {
    /// `<url>/api/v3/`, for messages.
    base: String,
    rest: RestClient,
    /// The same connection settings without the gateway retries of a
    /// non-idempotent request, for [`Api::patch_once`].
    once: RestClient,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl Api {
    pub fn new(s: &Settings) -> Result<Api, String> {
        let base = format!("{}/api/v3/", s.url.trim_end_matches('/'));
        let mut config = Config::new(&base, Auth::Bearer(s.token.clone()));
        config.ca_pem = s.ca_pem.clone();
        config.insecure = s.insecure;
        config.timeout = s.timeout;
        config.backoff = Backoff {
            retries: s.retries,
            base: s.backoff,
            max_wait: RATE_LIMIT_BUDGET,
        };
        let once = RestClient::new(&config).map_err(|e| e.to_string())?;
        config.retry_unsafe_on = GATEWAY_STATUSES.to_vec();
        let rest = RestClient::new(&config).map_err(|e| e.to_string())?;
        Ok(Api { base, rest, once })
    }

    /// Sends one request (path relative to `/api/v3/`), retrying transient
    /// failures (see the module doc); `what` names the object for error
    /// messages.
    fn send(&self, req: &Request<'_>, what: &str) -> Result<Value, ApiError> {
        self.rest
            .send(req, what)
            .map_err(|e| ApiError::from_rest(e, &self.base))
    }

    pub fn get(&self, path: &str, what: &str) -> Result<Value, ApiError> {
        self.send(&Request::new(Method::GET, path), what)
    }

    /// GET that maps 404 to `None`.
    pub fn get_opt(&self, path: &str, what: &str) -> Result<Option<Value>, ApiError> {
        match self.get(path, what) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Api::get_opt`] with a failure as a diagnostic under `summary`, as
    /// resources report it.
    pub fn read(
        &self,
        path: &str,
        what: &str,
        summary: &str,
    ) -> Result<Option<Value>, Diagnostics> {
        self.get_opt(path, what).map_err(|e| api_diag(summary, e))
    }

    pub fn post(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        self.send(&Request::new(Method::POST, path).json(body), what)
    }

    /// PATCH of fields to fixed values: repeating it changes nothing more.
    pub fn patch(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        let req = Request::new(Method::PATCH, path)
            .json(body)
            .idempotent(true);
        self.send(&req, what)
    }

    /// PATCH of a value computed from an earlier read (a read-modify-write),
    /// never sent again once it may have reached the server: repeated after
    /// a 5xx, reset or timeout, it would carry what was read before and undo
    /// whatever another writer wrote in between. Only a request that never
    /// connected, or that was rate limited, is sent again (neither was
    /// processed). The caller re-reads and recomputes instead (see
    /// `outpost::set_membership`).
    pub fn patch_once(&self, path: &str, body: &Value, what: &str) -> Result<Value, ApiError> {
        let req = Request::new(Method::PATCH, path)
            .json(body)
            .idempotent(false);
        self.once
            .send(&req, what)
            .map_err(|e| ApiError::from_rest(e, &self.base))
    }

    /// DELETE; an object already gone counts as deleted.
    pub fn delete(&self, path: &str, what: &str) -> Result<(), ApiError> {
        match self.send(&Request::new(Method::DELETE, path), what) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every result of a list endpoint, following Authentik's `pagination.next`.
    /// `query` is already URL-encoded (`name=x&...`, see [`enc`]).
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

/// Every byte but RFC 3986's unreserved characters is escaped.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query or path value.
pub fn enc(s: &str) -> String {
    utf8_percent_encode(s, ESCAPED).to_string()
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
