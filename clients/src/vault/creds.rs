//! A database static role's current credentials:
//! `GET /v1/<mount>/static-creds/<role>` answers
//! `{"data": {"username", "password", …}}`. Errors carry the HTTP status
//! and Vault's own (cleaned) `errors` strings, never the token or the
//! answer's body (which holds the password).

use std::sync::LazyLock;

use regex::Regex;

use super::{Options, Vault, VaultError};

pub struct Creds {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Creds({}, password <redacted>)", self.username)
    }
}

static PATH_SEGMENT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$").expect("path segment regex")
});

/// Mount and role come from configuration: plain path segments only, so
/// they cannot reach another Vault path.
pub fn check_segment(what: &str, v: &str) -> Result<(), String> {
    if PATH_SEGMENT_RE.is_match(v) && !v.split('/').any(|s| s == ".." || s == ".") {
        Ok(())
    } else {
        Err(format!(
            "{what} {v:?} is not a Vault path: use letters, digits, '_', '.', '-' and '/'"
        ))
    }
}

impl Vault {
    /// Reads `<mount>/static-creds/<role>`.
    pub fn static_creds(&self, mount: &str, role: &str) -> Result<Creds, String> {
        check_segment("vault_mount", mount)?;
        check_segment("vault_static_role", role)?;
        let what = format!("Vault {mount}/static-creds/{role} at {}", self.addr);
        let body = self
            .read(&format!("{mount}/static-creds/{role}"))
            .map_err(|e| match e {
                VaultError::Unreachable { cause, .. } => format!("cannot reach {what}: {cause}"),
                VaultError::Status { status, errors, .. } => {
                    let hint = match status {
                        403 => " (the token lacks read access to this path, or has expired)",
                        404 => {
                            " (no such static role, or the database secrets engine is not mounted there)"
                        }
                        503 => " (Vault is sealed or in standby)",
                        _ => "",
                    };
                    let status = reqwest::StatusCode::from_u16(status)
                        .map_or_else(|_| status.to_string(), |s| s.to_string());
                    format!("{what} answered HTTP {status}{hint}: {errors}")
                }
                VaultError::Answer(message) => format!("{what}: {message}"),
            })?;
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
}

/// Reads `<mount>/static-creds/<role>` from the Vault at `addr` with
/// `token`, trusting the PEM CA in `ca_file` (`VAULT_CACERT`) besides the
/// system's roots.
pub fn static_creds(
    addr: &str,
    token: &str,
    mount: &str,
    role: &str,
    ca_file: Option<&str>,
) -> Result<Creds, String> {
    check_segment("vault_mount", mount)?;
    check_segment("vault_static_role", role)?;
    let ca_pem = match ca_file {
        Some(path) => Some(
            std::fs::read(path).map_err(|e| format!("cannot read VAULT_CACERT {path:?}: {e}"))?,
        ),
        None => None,
    };
    let options = Options {
        ca_pem,
        ..Options::default()
    };
    let vault = Vault::with_token(addr, token, &options).map_err(|e| match ca_file {
        Some(path) => format!("VAULT_CACERT {path:?}: {e}"),
        None => e,
    })?;
    vault.static_creds(mount, role)
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

    #[test]
    fn debug_never_shows_the_password() {
        let c = Creds {
            username: "u".into(),
            password: "pw-SECRET".into(),
        };
        assert!(!format!("{c:?}").contains("SECRET"));
    }
}
