//! Reads a database static role's current credentials from Vault (or OpenBao).
//!
//! `GET /v1/<mount>/static-creds/<role>` answers `{"data": {"username", "password", …}}`.
//! Error messages carry the HTTP status and Vault's own `errors` strings, never
//! the token or the response body (which holds the password).

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

pub struct Creds {
    pub username: String,
    pub password: String,
}

static PATH_SEGMENT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$").expect("path segment regex")
});

fn check_segment(what: &str, v: &str) -> Result<(), String> {
    if PATH_SEGMENT_RE.is_match(v) && !v.split('/').any(|s| s == ".." || s == ".") {
        Ok(())
    } else {
        Err(format!(
            "{what} {v:?} is not a Vault path: use letters, digits, '_', '.', '-' and '/'"
        ))
    }
}

/// Fetches `<mount>/static-creds/<role>` from the Vault at `addr`.
pub fn static_creds(
    addr: &str,
    token: &str,
    mount: &str,
    role: &str,
    ca_file: Option<&str>,
) -> Result<Creds, String> {
    check_segment("vault_mount", mount)?;
    check_segment("vault_static_role", role)?;
    let url = format!(
        "{}/v1/{mount}/static-creds/{role}",
        addr.trim_end_matches('/')
    );
    let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(15));
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read VAULT_CACERT {path:?}: {e}"))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| format!("VAULT_CACERT {path:?} is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot build the Vault HTTP client: {e}"))?;
    let what = format!("Vault {mount}/static-creds/{role} at {addr}");
    let resp = client
        .get(&url)
        .header("X-Vault-Token", token)
        .send()
        .map_err(|e| format!("cannot reach {what}: {}", e.without_url()))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .map_err(|_| format!("{what} answered HTTP {status} with a body that is not JSON"))?;
    if !status.is_success() {
        let errors: Vec<&str> = body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
            .unwrap_or_default();
        let hint = match status.as_u16() {
            403 => " (the token lacks read access to this path, or has expired)",
            404 => " (no such static role, or the database secrets engine is not mounted there)",
            503 => " (Vault is sealed or in standby)",
            _ => "",
        };
        return Err(format!(
            "{what} answered HTTP {status}{hint}: {}",
            errors.join("; ")
        ));
    }
    let field = |name: &str| {
        body["data"][name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("{what} answered without data.{name}"))
    };
    Ok(Creds {
        username: field("username")?,
        password: field("password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_tricks() {
        for bad in ["", "../sys", "a/../b", "a b", "a?x=1", "a#b", "/abs"] {
            assert!(check_segment("vault_static_role", bad).is_err(), "{bad:?}");
        }
        check_segment("vault_mount", "database").unwrap();
        check_segment("vault_mount", "team/database").unwrap();
        check_segment("vault_static_role", "pg-goldmane-edges").unwrap();
    }
}
