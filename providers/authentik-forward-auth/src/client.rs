//! A small blocking client for Authentik's `/api/v3/`: Bearer auth (the token
//! is never logged or put in errors), JSON bodies, pagination, and retries of
//! transient failures only (connection errors, 502/503/504, and 500 on
//! idempotent methods) with exponential backoff.

use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde_json::Value;
use tfplugin::retry::Backoff;

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
                max_wait: Duration::from_secs(60),
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
        let url = format!("{}{}", self.base, path);
        let idempotent = method != Method::POST;
        let (result, attempts) = self.backoff.run(
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
                Err(e) => idempotent || e.is_connect(),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    matches!(status, 502..=504) || (status == 500 && idempotent)
                }
            },
        );
        let resp = result.map_err(|e| ApiError::Transport {
            what: what.into(),
            url: self.base.clone(),
            attempts,
            cause: std::error::Error::source(&e)
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string()),
        })?;
        let status = resp.status().as_u16();
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
