//! Tier-1 stacks: state in PostgreSQL through terraform's `pg` backend.
//! The connection string reaches the engine only as `PG_CONN_STR` in its
//! environment: never on a command line, never in a log.

use crate::error::TgError;

/// The Vault static role holding the state database credentials.
pub const STATIC_CREDS_PATH: &str = "database/static-creds/pg-terraform-state";

/// `PG_CONN_STR` for the engine: the caller's own when set, else built
/// from Vault's static credentials and `TG_PG_HOST`/`TG_PG_PORT`/
/// `TG_PG_DATABASE`/`TG_PG_SSLMODE`.
pub fn conn_str() -> Result<String, TgError> {
    if let Ok(s) = std::env::var("PG_CONN_STR")
        && !s.is_empty()
    {
        return Ok(s);
    }
    let step = format!("read PG credentials from Vault ({STATIC_CREDS_PATH})");
    let vault = crate::vault::from_env().map_err(|e| TgError::step(&step, e))?;
    let creds = vault.read(STATIC_CREDS_PATH).map_err(|f| {
        TgError::step(&step, format!("{f}\nHint: humans run `vault login -method=oidc`; CI authenticates with its Kubernetes service account (VAULT_K8S_ROLE)."))
    })?;
    let user = creds["data"]["username"]
        .as_str()
        .ok_or_else(|| TgError::step(&step, "the answer has no data.username"))?;
    let pass = creds["data"]["password"]
        .as_str()
        .ok_or_else(|| TgError::step(&step, "the answer has no data.password"))?;
    let env = |k: &str, d: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| d.to_string())
    };
    Ok(format!(
        "postgres://{}:{}@{}:{}/{}?sslmode={}",
        encode(user),
        encode(pass),
        env("TG_PG_HOST", "10.0.20.200"),
        env("TG_PG_PORT", "5432"),
        env("TG_PG_DATABASE", "terraform_state"),
        env("TG_PG_SSLMODE", "disable")
    ))
}

/// What a URL userinfo part keeps as it is: RFC 3986's unreserved
/// characters; everything else (`@`, `:`, `/`, `%`, non-ASCII) is encoded.
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a URL userinfo part.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, USERINFO).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn userinfo_is_encoded() {
        assert_eq!(super::encode("p@ss/w:rd"), "p%40ss%2Fw%3Ard");
        assert_eq!(super::encode("a-b.c_d~e%é"), "a-b.c_d~e%25%C3%A9");
    }
}
