//! A blocking Vault (or OpenBao) client: one authenticated handle
//! ([`Vault`]) for API calls, token resolution and logins ([`auth`]), KV v2
//! entries with check-and-set ([`kv`]), database static credentials
//! ([`creds`]) and Transit encryption ([`transit`]).
//!
//! The token travels in the `X-Vault-Token` header only: never in a URL, an
//! error or a `Debug` print. Vault's own error text is passed on through
//! [`vault_errors`]: printable, capped, and with the token redacted.

pub mod auth;
pub mod creds;
pub mod kv;
pub mod transit;

use std::time::Duration;

pub use auth::{AuthError, TokenSource};
pub use creds::{Creds, static_creds};

use crate::error::safe_text;

/// How long one Vault request may take unless the caller says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest error text [`vault_errors`] passes on, in characters: enough for
/// Vault's messages ("permission denied", "Vault is sealed"), short enough
/// that a misbehaving server or proxy cannot flood the log.
pub const VAULT_ERRORS_MAX_CHARS: usize = 300;

/// An authenticated Vault handle (cheap to clone: the HTTP pool is shared).
#[derive(Clone)]
pub struct Vault {
    pub addr: String,
    token: String,
    http: reqwest::blocking::Client,
    /// Where the token came from (`tg doctor` says it).
    pub source: TokenSource,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({})", self.addr) // never the token
    }
}

/// Connection settings beyond the address and token.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Extra PEM CA certificate(s) to trust (a private Vault CA).
    pub ca_pem: Option<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: DEFAULT_TIMEOUT,
            ca_pem: None,
        }
    }
}

/// A failed Vault call. `Display` keeps the form `tg classify` matches
/// (`error reading from Vault: Code: 503. Errors: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// No answer. `cause` is the HTTP library's text, which names the URL
    /// (never the token, which is only in a header).
    Unreachable { url: String, cause: String },
    /// Vault answered with a non-2xx status; `errors` is [`vault_errors`].
    Status {
        url: String,
        status: u16,
        errors: String,
    },
    /// Vault answered 2xx, but not with what the call needs.
    Answer(String),
}

impl VaultError {
    /// The HTTP status Vault answered with (None: no answer, or a 2xx
    /// answer that lacked something).
    pub fn status(&self) -> Option<u16> {
        match self {
            VaultError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl std::fmt::Display for VaultError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VaultError::Unreachable { url, cause } => {
                write!(f, "error reading from Vault: {url}: {cause}")
            }
            VaultError::Status {
                url,
                status,
                errors,
            } => write!(
                f,
                "error reading from Vault: Code: {status}. Errors: * {errors} ({url})"
            ),
            VaultError::Answer(message) => write!(f, "error reading from Vault: {message}"),
        }
    }
}

impl std::error::Error for VaultError {}

/// The HTTP client for Vault calls, trusting `ca_pem` besides the system's
/// roots.
pub(crate) fn http(options: &Options) -> Result<reqwest::blocking::Client, String> {
    let mut builder = reqwest::blocking::Client::builder().timeout(options.timeout);
    if let Some(pem) = &options.ca_pem {
        builder = crate::rest::add_ca(builder, pem)?;
    }
    builder
        .build()
        .map_err(|e| format!("cannot build the Vault HTTP client: {e}"))
}

impl Vault {
    /// A handle for `addr` with a token the caller already has.
    pub fn with_token(addr: &str, token: &str, options: &Options) -> Result<Vault, String> {
        Ok(Vault {
            addr: addr.to_string(),
            token: token.to_string(),
            http: http(options)?,
            source: TokenSource::Given,
        })
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// One API call; `path` is relative to `/v1/`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, VaultError> {
        self.call_dated(method, path, body).map(|(json, _)| json)
    }

    /// One API call, with the server's clock at the time it answered (its
    /// `Date` header): leases judged on Vault's clock alone agree across
    /// hosts whose clocks disagree.
    pub fn call_dated(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(serde_json::Value, Option<time::OffsetDateTime>), VaultError> {
        let url = format!("{}/v1/{}", self.addr.trim_end_matches('/'), path);
        let mut req = self.http.request(method, &url);
        if !self.token.is_empty() {
            req = req.header("X-Vault-Token", &self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().map_err(|e| VaultError::Unreachable {
            url: url.clone(),
            cause: safe_text(&e.to_string(), usize::MAX, &[&self.token]),
        })?;
        let status = resp.status();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(parse_http_date);
        // Not JSON (a proxy's HTML page): no fields, and no error text.
        let json: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            Ok((json, date))
        } else {
            Err(VaultError::Status {
                url,
                status: status.as_u16(),
                errors: vault_errors(&json, &[&self.token]),
            })
        }
    }

    pub fn read(&self, path: &str) -> Result<serde_json::Value, VaultError> {
        self.call(reqwest::Method::GET, path, None)
    }
}

/// The `errors` array of a Vault (or OpenBao) error answer as one line of
/// text, joined with "; ", each entry and the whole made safe by
/// [`safe_text`] (printable, `secrets` redacted, capped at
/// [`VAULT_ERRORS_MAX_CHARS`]). Says "(no error text)" when the answer has
/// none (not JSON, no `errors` array, or only empty entries).
pub fn vault_errors(answer: &serde_json::Value, secrets: &[&str]) -> String {
    let joined = answer["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str())
                .map(|e| safe_text(e, usize::MAX, secrets))
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if joined.is_empty() {
        return "(no error text)".to_string();
    }
    safe_text(&joined, VAULT_ERRORS_MAX_CHARS, secrets)
}

/// An HTTP `Date` header (IMF-fixdate, RFC 9110 §5.6.7, the only form a
/// server may send).
fn parse_http_date(text: &str) -> Option<time::OffsetDateTime> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), format)
        .ok()
        .map(|t| t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784111777);
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(parse_http_date("").is_none());
    }

    #[test]
    fn vault_errors_joins_the_errors_array() {
        let answer =
            serde_json::json!({ "errors": ["permission denied", 7, "", "1 error occurred"] });
        assert_eq!(
            vault_errors(&answer, &[]),
            "permission denied; 1 error occurred"
        );
    }

    #[test]
    fn vault_errors_strips_control_characters() {
        let answer =
            serde_json::json!({ "errors": ["denied\nFAKE LOG LINE\r\t\u{1b}[31mred\u{0}\u{7f}"] });
        assert_eq!(vault_errors(&answer, &[]), "denied FAKE LOG LINE  [31mred");
    }

    #[test]
    fn vault_errors_caps_long_text() {
        let answer = serde_json::json!({ "errors": ["é".repeat(1000)] });
        let text = vault_errors(&answer, &[]);
        assert_eq!(text.chars().count(), VAULT_ERRORS_MAX_CHARS + 1);
        assert!(text.ends_with('…'), "{text}");
        assert!(text.starts_with("éé"));
    }

    #[test]
    fn vault_errors_says_when_there_is_no_text() {
        for answer in [
            serde_json::Value::Null,
            serde_json::json!({}),
            serde_json::json!({ "errors": [] }),
            serde_json::json!({ "errors": "not an array" }),
            serde_json::json!({ "errors": ["", "\n"] }),
        ] {
            assert_eq!(vault_errors(&answer, &[]), "(no error text)", "{answer}");
        }
    }

    #[test]
    fn vault_errors_never_repeat_the_token() {
        let answer = serde_json::json!({ "errors": ["bad token hvs.SECRET", "hvs.SECRET"] });
        let text = vault_errors(&answer, &["hvs.SECRET"]);
        assert_eq!(text, "bad token <redacted>; <redacted>");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let v = Vault::with_token("http://127.0.0.1:1", "hvs.SECRET", &Options::default()).unwrap();
        assert_eq!(format!("{v:?}"), "Vault(http://127.0.0.1:1)");
    }
}
