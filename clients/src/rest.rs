//! A blocking JSON REST client: a base URL, an `Authorization` header that
//! never reaches an error or a `Debug` print, custom CAs, and retries of
//! transient failures only (see [`RestClient::execute`] for which).
//! Errors are typed ([`RestError`]) so a provider maps them to its own
//! wording (404 as "gone", 401 as "check the token") on top.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use reqwest::blocking::{Client, ClientBuilder, RequestBuilder, Response};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use serde_json::Value;

use crate::error::safe_text;
use crate::retry::{Backoff, Verdict, retry_after};

/// Longest excerpt of an error answer's body kept in a [`RestError`].
pub const BODY_EXCERPT_CHARS: usize = 500;

/// How requests are authenticated. The secret goes into the
/// `Authorization` header only, marked sensitive.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: token <token>` (Gitea/Forgejo API tokens).
    Token(String),
    /// `Authorization: Basic base64(<user>:<password>)`.
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Bearer(_) => "Auth::Bearer(<redacted>)",
            Auth::Token(_) => "Auth::Token(<redacted>)",
            Auth::Basic { .. } => "Auth::Basic(<redacted>)",
        })
    }
}

impl Auth {
    /// The header value, and every secret string an echoing server could
    /// send back (to redact from error text).
    fn header(&self) -> Result<(Option<HeaderValue>, Vec<String>), String> {
        use base64::Engine;
        let (value, mut secrets) = match self {
            Auth::None => return Ok((None, Vec::new())),
            Auth::Bearer(t) => (format!("Bearer {t}"), vec![t.clone()]),
            Auth::Token(t) => (format!("token {t}"), vec![t.clone()]),
            Auth::Basic { user, password } => {
                let pair =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                (format!("Basic {pair}"), vec![password.clone(), pair])
            }
        };
        let mut header = HeaderValue::from_str(&value).map_err(|_| {
            "the API token holds characters not allowed in an HTTP header".to_string()
        })?;
        header.set_sensitive(true);
        secrets.retain(|s| !s.is_empty());
        Ok((Some(header), secrets))
    }
}

/// Everything a [`RestClient`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Paths given to [`Request::new`] are joined to this with one `/`
    /// (trailing ones here and a leading one there do not double it).
    pub base_url: String,
    pub auth: Auth,
    /// Extra PEM CA certificate(s) trusted besides the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip TLS verification (an explicit user choice, for tests).
    pub insecure: bool,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Follow redirects (off: a 3xx is returned as is, and the token is
    /// never sent to another host).
    pub follow_redirects: bool,
    /// Retries, their backoff, and the total wait budget of one request.
    pub backoff: Backoff,
    /// 5xx statuses also retried for non-idempotent requests: those a
    /// service answers only when the request did not reach the backend
    /// (a gateway's 502/504). Empty by default.
    pub retry_unsafe_on: Vec<u16>,
}

impl Config {
    /// Defaults: 30 s per attempt, 3 retries from 200 ms, 60 s budget, no
    /// redirects, verified TLS.
    pub fn new(base_url: &str, auth: Auth) -> Config {
        Config {
            base_url: base_url.to_string(),
            auth,
            ca_pem: None,
            insecure: false,
            timeout: Duration::from_secs(30),
            follow_redirects: false,
            backoff: Backoff {
                retries: 3,
                base: Duration::from_millis(200),
                max_wait: Duration::from_secs(60),
            },
            retry_unsafe_on: Vec::new(),
        }
    }
}

/// One request: method, path below the base URL, optional JSON body and
/// headers. Idempotent by the method's definition (RFC 9110 §9.2.2) unless
/// the caller knows better ([`Request::idempotent`]).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    method: Method,
    path: String,
    body: Option<&'a Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
    idempotent: bool,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, path: &str) -> Request<'a> {
        let idempotent = matches!(
            method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        Request {
            method,
            path: path.to_string(),
            body: None,
            headers: Vec::new(),
            idempotent,
        }
    }

    pub fn json(mut self, body: &'a Value) -> Request<'a> {
        self.body = Some(body);
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request<'a> {
        self.headers.push((name, value));
        self
    }

    /// Overrides the method's idempotency: e.g. a PATCH that sets fields to
    /// fixed values may be repeated safely.
    pub fn idempotent(mut self, idempotent: bool) -> Request<'a> {
        self.idempotent = idempotent;
        self
    }
}

/// What went wrong, with `what` naming the object concerned. No variant
/// carries the token: causes and body excerpts pass through
/// [`safe_text`] with the secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The client could not be built (bad CA, token not a header value).
    #[error("{0}")]
    Setup(String),
    /// No answer: connection refused or reset, timeout, TLS failure.
    #[error("{what}: cannot reach {base} after {attempts} attempt(s): {cause}")]
    Transport {
        what: String,
        base: String,
        attempts: u32,
        cause: String,
    },
    /// Still rate limited (429, or 503 with `Retry-After`) when the
    /// retries or the wait budget ran out.
    #[error(
        "{what}: rate limited (HTTP {status}{}) after {attempts} attempt(s){}",
        asked.map(|a| format!(", Retry-After {}s", a.as_secs())).unwrap_or_default(),
        if *refused { ": the wait asked for is more than the budget left" } else { "" }
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
    /// A final non-2xx answer.
    #[error("{what}: HTTP {status} after {attempts} attempt(s): {body}")]
    Status {
        what: String,
        status: u16,
        attempts: u32,
        /// Printable, capped at [`BODY_EXCERPT_CHARS`], secrets redacted.
        body: String,
    },
    /// A 2xx answer whose body is not the JSON expected.
    #[error("{what}: HTTP {status}: the answer is not JSON: {cause}")]
    Decode {
        what: String,
        status: u16,
        cause: String,
    },
}

impl RestError {
    /// The final HTTP status, if there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            RestError::RateLimited { status, .. }
            | RestError::Status { status, .. }
            | RestError::Decode { status, .. } => Some(*status),
            RestError::Setup(_) | RestError::Transport { .. } => None,
        }
    }
}

/// Adds the PEM certificate(s) in `pem` as trusted roots; refuses a file
/// holding none.
pub fn add_ca(mut builder: ClientBuilder, pem: &[u8]) -> Result<ClientBuilder, String> {
    let certs = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| format!("the CA certificate is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the CA certificate file holds no PEM certificate".into());
    }
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// The API handle. Cheap to share between threads.
pub struct RestClient {
    base: String,
    auth: Option<HeaderValue>,
    /// Token forms redacted from every error text.
    secrets: Vec<String>,
    http: Client,
    backoff: Backoff,
    retry_unsafe_on: Vec<u16>,
}

impl std::fmt::Debug for RestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestClient")
            .field("base", &self.base)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The wait a response's `Retry-After` asks for, if it has a usable one.
pub fn asked_wait(resp: &Response) -> Option<Duration> {
    let v = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    retry_after(v.to_str().ok()?, SystemTime::now())
}

impl RestClient {
    pub fn new(config: &Config) -> Result<RestClient, RestError> {
        let (auth, secrets) = config.auth.header().map_err(RestError::Setup)?;
        let mut builder = Client::builder()
            .timeout(config.timeout)
            .danger_accept_invalid_certs(config.insecure);
        if !config.follow_redirects {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        if let Some(pem) = &config.ca_pem {
            builder = add_ca(builder, pem).map_err(RestError::Setup)?;
        }
        let http = builder
            .build()
            .map_err(|e| RestError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(RestClient {
            base: config.base_url.trim_end_matches('/').to_string(),
            auth,
            secrets,
            http,
            backoff: config.backoff,
            retry_unsafe_on: config.retry_unsafe_on.clone(),
        })
    }

    /// The base URL (without a trailing `/`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `path` below the base URL, joined with exactly one `/` whether or
    /// not it starts with one (`core/users/?page=2` and `/api/v1/x` alike).
    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.strip_prefix('/').unwrap_or(path))
    }

    /// `text` safe for an error: printable, capped, the token redacted.
    fn clean(&self, text: &str, max_chars: usize) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        safe_text(text, max_chars, &secrets)
    }

    fn build(&self, req: &Request<'_>) -> RequestBuilder {
        let mut b = self.http.request(req.method.clone(), self.url(&req.path));
        if let Some(auth) = &self.auth {
            b = b.header(AUTHORIZATION, auth.clone());
        }
        for (name, value) in &req.headers {
            b = b.header(name.clone(), value.clone());
        }
        if let Some(body) = req.body {
            b = b.json(body);
        }
        b
    }

    /// Sends `req`, retrying transient failures within the backoff's
    /// retries and wait budget, and returns the final answer whatever its
    /// status, except:
    /// - no answer at all is [`RestError::Transport`];
    /// - still rate limited is [`RestError::RateLimited`].
    ///
    /// Retried: for every request, a connection that never opened (the
    /// server saw nothing) and a rate limit (429, or 503 with
    /// `Retry-After`: a throttled request was not processed), the latter
    /// after the wait asked for; for idempotent requests also a reset or
    /// timeout after sending and any other 5xx; for the others also the
    /// 5xx in [`Config::retry_unsafe_on`]. Everything else (401, 404, a
    /// validation error) is returned at once, never retried or masked.
    pub fn execute(&self, req: &Request<'_>, what: &str) -> Result<Response, RestError> {
        self.run(req, what).map(|(resp, _)| resp)
    }

    /// [`RestClient::execute`], with the number of attempts made.
    fn run(&self, req: &Request<'_>, what: &str) -> Result<(Response, u32), RestError> {
        let finished = self
            .backoff
            .run_limited(|_| self.build(req).send(), |r| self.verdict(req, r));
        let attempts = finished.attempts;
        let resp = finished.result.map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string());
            RestError::Transport {
                what: what.to_string(),
                base: self.base.clone(),
                attempts,
                cause: self.clean(&cause, BODY_EXCERPT_CHARS),
            }
        })?;
        let status = resp.status().as_u16();
        let asked = asked_wait(&resp);
        if status == 429 || (status == 503 && asked.is_some()) {
            return Err(RestError::RateLimited {
                what: what.to_string(),
                status,
                attempts,
                asked,
                refused: finished.refused_wait.is_some(),
            });
        }
        Ok((resp, attempts))
    }

    fn verdict(&self, req: &Request<'_>, result: &reqwest::Result<Response>) -> Verdict {
        match result {
            Err(e) if req.idempotent || e.is_connect() => Verdict::Transient,
            Err(_) => Verdict::Done,
            Ok(resp) => {
                let status = resp.status().as_u16();
                let asked = asked_wait(resp);
                match status {
                    429 => Verdict::RateLimited(asked),
                    503 if asked.is_some() => Verdict::RateLimited(asked),
                    500..=599 if req.idempotent || self.retry_unsafe_on.contains(&status) => {
                        Verdict::Transient
                    }
                    _ => Verdict::Done,
                }
            }
        }
    }

    /// [`RestClient::execute`], then: a 2xx answer's JSON body (`Null` when
    /// empty, as a 204 is), any other status [`RestError::Status`] with a
    /// cleaned excerpt of the body.
    pub fn send(&self, req: &Request<'_>, what: &str) -> Result<Value, RestError> {
        let (resp, attempts) = self.run(req, what)?;
        let status = resp.status().as_u16();
        let text = resp.text().map_err(|e| RestError::Transport {
            what: what.to_string(),
            base: self.base.clone(),
            attempts,
            cause: self.clean(&e.to_string(), BODY_EXCERPT_CHARS),
        })?;
        if !(200..300).contains(&status) {
            return Err(RestError::Status {
                what: what.to_string(),
                status,
                attempts,
                body: self.clean(&text, BODY_EXCERPT_CHARS),
            });
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| RestError::Decode {
            what: what.to_string(),
            status,
            cause: e.to_string(),
        })
    }
}
