//! A small Vault (or OpenBao) client: token resolution, Kubernetes login,
//! KV/static-creds reads. Errors carry Vault's own status and message.

use std::time::Duration;

use crate::error::TgError;

#[derive(Clone)]
pub struct Vault {
    pub addr: String,
    token: String,
    http: reqwest::blocking::Client,
    /// Where the token came from (`tg doctor` says it).
    pub source: TokenSource,
}

/// Where a Vault token came from. Explicit settings come first: an
/// ambient `~/.vault-token` (a human's `vault login`, possibly stale or of
/// a weaker policy) must not shadow a `VAULT_TOKEN` or `VAULT_K8S_ROLE`
/// someone set on purpose (seeds/001 lines 731-760: a read-only
/// `~/.vault-token` shadowed the scoped token, 403 on the user's own path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `VAULT_TOKEN`.
    Env,
    /// A Kubernetes login with `VAULT_K8S_ROLE` (the role).
    Kubernetes(String),
    /// `~/.vault-token`.
    File,
    /// Given by the caller ([`Vault::with_token`]).
    Given,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Env => f.write_str("VAULT_TOKEN"),
            TokenSource::Kubernetes(role) => write!(f, "Kubernetes login (VAULT_K8S_ROLE={role})"),
            TokenSource::File => f.write_str("~/.vault-token"),
            TokenSource::Given => f.write_str("the caller"),
        }
    }
}

fn home_token() -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let t = std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()?;
    Some(t.trim().to_string()).filter(|t| !t.is_empty())
}

/// The SOPS key sources (age identities, Transit token) with the Vault
/// token chosen in tg's order ([`TokenSource`]): `VAULT_TOKEN`, else a
/// Kubernetes login when `VAULT_K8S_ROLE` and `VAULT_ADDR` are set, else
/// `~/.vault-token`.
pub fn sops_keys() -> Result<sops_rs::KeySources, TgError> {
    let mut keys =
        sops_rs::KeySources::from_env().map_err(|e| TgError::step("load SOPS keys", e))?;
    let explicit = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
    if !explicit("VAULT_TOKEN") && explicit("VAULT_K8S_ROLE") && explicit("VAULT_ADDR") {
        keys.vault_token = Some(Vault::from_env()?.token);
    }
    Ok(keys)
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Vault({})", self.addr) // never the token
    }
}

/// A failed Vault call: HTTP status (None = unreachable) and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultFailure {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for VaultFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(code) => write!(
                f,
                "error reading from Vault: Code: {code}. Errors: {}",
                self.message
            ),
            None => write!(f, "error reading from Vault: {}", self.message),
        }
    }
}

fn http() -> Result<reqwest::blocking::Client, TgError> {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| TgError::step("build the Vault HTTP client", e))
}

impl Vault {
    /// `VAULT_ADDR` plus a token from, in this order, `VAULT_TOKEN`, a
    /// Kubernetes login (`VAULT_K8S_ROLE`, service-account JWT), or
    /// `~/.vault-token`. A failed login is an error, never a fallback to
    /// the ambient file.
    pub fn from_env() -> Result<Vault, TgError> {
        let addr = std::env::var("VAULT_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| TgError::step("find Vault", "VAULT_ADDR is not set"))?;
        let http = http()?;
        if let Some(token) = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty()) {
            return Ok(Vault {
                addr,
                token,
                http,
                source: TokenSource::Env,
            });
        }
        if let Some(role) = std::env::var("VAULT_K8S_ROLE")
            .ok()
            .filter(|r| !r.is_empty())
        {
            return Vault::kubernetes_login(addr, &role, http);
        }
        if let Some(token) = home_token() {
            return Ok(Vault {
                addr,
                token,
                http,
                source: TokenSource::File,
            });
        }
        Err(TgError::step(
            "find a Vault token",
            "no VAULT_TOKEN, no VAULT_K8S_ROLE and no ~/.vault-token. Humans: `vault login -method=oidc`; CI: set VAULT_K8S_ROLE (role=ci).",
        ))
    }

    /// Whether an ambient `~/.vault-token` exists that this token's
    /// source (an explicit one) took precedence over.
    pub fn shadowed_file(&self) -> bool {
        self.source != TokenSource::File && home_token().is_some()
    }

    pub fn with_token(addr: &str, token: &str) -> Result<Vault, TgError> {
        Ok(Vault {
            addr: addr.to_string(),
            token: token.to_string(),
            http: http()?,
            source: TokenSource::Given,
        })
    }

    fn kubernetes_login(
        addr: String,
        role: &str,
        http: reqwest::blocking::Client,
    ) -> Result<Vault, TgError> {
        let jwt_path = std::env::var("VAULT_K8S_JWT_PATH")
            .unwrap_or_else(|_| "/var/run/secrets/kubernetes.io/serviceaccount/token".into());
        let mount = std::env::var("VAULT_K8S_MOUNT").unwrap_or_else(|_| "kubernetes".into());
        let step = format!("Vault kubernetes login (auth/{mount}/login role={role})");
        let jwt = std::fs::read_to_string(&jwt_path)
            .map_err(|e| TgError::step(&step, format!("{jwt_path}: {e}")))?;
        let v = Vault {
            addr,
            token: String::new(),
            http,
            source: TokenSource::Kubernetes(role.to_string()),
        };
        let resp = v
            .call(
                reqwest::Method::POST,
                &format!("auth/{mount}/login"),
                Some(serde_json::json!({"role": role, "jwt": jwt.trim()})),
            )
            .map_err(|f| TgError::step(&step, f))?;
        let token = resp["auth"]["client_token"]
            .as_str()
            .ok_or_else(|| TgError::step(&step, "no client_token in the answer"))?;
        Ok(Vault {
            token: token.to_string(),
            ..v
        })
    }

    /// One API call; `path` is relative to `/v1/`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, VaultFailure> {
        self.call_dated(method, path, body).map(|(json, _)| json)
    }

    /// One API call, with the server's clock at the time it answered (its
    /// `Date` header): lock leases are judged on Vault's clock alone, so
    /// hosts whose clocks disagree still agree on when a lease ran out.
    pub fn call_dated(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(serde_json::Value, Option<time::OffsetDateTime>), VaultFailure> {
        let url = format!("{}/v1/{}", self.addr.trim_end_matches('/'), path);
        let mut req = self.http.request(method, &url);
        if !self.token.is_empty() {
            req = req.header("X-Vault-Token", &self.token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().map_err(|e| VaultFailure {
            status: None,
            message: format!("{url}: {e}"),
        })?;
        let status = resp.status();
        let date = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(parse_http_date);
        let json: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            Ok((json, date))
        } else {
            Err(VaultFailure {
                status: Some(status.as_u16()),
                message: format!("* {} ({url})", sops_rs::keys::vault_errors(&json)),
            })
        }
    }

    pub fn read(&self, path: &str) -> Result<serde_json::Value, VaultFailure> {
        self.call(reqwest::Method::GET, path, None)
    }

    pub fn token(&self) -> &str {
        &self.token
    }
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
    #[test]
    fn http_dates() {
        let t = super::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784111777);
        assert!(super::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(super::parse_http_date("").is_none());
    }
}
