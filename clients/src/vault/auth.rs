//! Where a Vault token comes from: `VAULT_TOKEN`, a Kubernetes (or JWT)
//! login, or the file `vault login -method=oidc` leaves (`~/.vault-token`).

use super::{Options, Vault, VaultError, http};

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

/// A token could not be found or a login failed: the step and its cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step}: {cause}")]
pub struct AuthError {
    pub step: String,
    pub cause: String,
}

fn auth_error(step: &str, cause: impl std::fmt::Display) -> AuthError {
    AuthError {
        step: step.to_string(),
        cause: cause.to_string(),
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The token in `~/.vault-token` (written by `vault login`), if any.
pub fn home_token() -> Option<String> {
    let home = std::env::var_os("HOME")?;
    let t = std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()?;
    Some(t.trim().to_string()).filter(|t| !t.is_empty())
}

/// `VAULT_TOKEN`, else `~/.vault-token`: where the `vault` CLI and sops
/// look, without logging in.
pub fn ambient_token() -> Option<String> {
    env("VAULT_TOKEN").or_else(home_token)
}

impl Vault {
    /// `VAULT_ADDR` plus a token from, in this order, `VAULT_TOKEN`, a
    /// Kubernetes login (`VAULT_K8S_ROLE`, service-account JWT at
    /// `VAULT_K8S_JWT_PATH`, auth mount `VAULT_K8S_MOUNT`), or
    /// `~/.vault-token`. A failed login is an error, never a fallback to
    /// the ambient file.
    pub fn from_env() -> Result<Vault, AuthError> {
        let addr =
            env("VAULT_ADDR").ok_or_else(|| auth_error("find Vault", "VAULT_ADDR is not set"))?;
        let options = Options::default();
        if let Some(token) = env("VAULT_TOKEN") {
            return Vault::with_source(addr, token, TokenSource::Env, &options);
        }
        if let Some(role) = env("VAULT_K8S_ROLE") {
            let jwt_path = std::env::var("VAULT_K8S_JWT_PATH")
                .unwrap_or_else(|_| "/var/run/secrets/kubernetes.io/serviceaccount/token".into());
            let mount = std::env::var("VAULT_K8S_MOUNT").unwrap_or_else(|_| "kubernetes".into());
            let step = format!("Vault kubernetes login (auth/{mount}/login role={role})");
            let jwt = std::fs::read_to_string(&jwt_path)
                .map_err(|e| auth_error(&step, format!("{jwt_path}: {e}")))?;
            let anonymous = Vault::with_source(
                addr,
                String::new(),
                TokenSource::Kubernetes(role.clone()),
                &options,
            )?;
            return anonymous
                .jwt_login(&mount, &role, jwt.trim())
                .map_err(|e| match e {
                    VaultError::Answer(what) => auth_error(&step, what),
                    e => auth_error(&step, e),
                });
        }
        if let Some(token) = home_token() {
            return Vault::with_source(addr, token, TokenSource::File, &options);
        }
        Err(auth_error(
            "find a Vault token",
            "no VAULT_TOKEN, no VAULT_K8S_ROLE and no ~/.vault-token. Humans: `vault login -method=oidc`; CI: set VAULT_K8S_ROLE (role=ci).",
        ))
    }

    fn with_source(
        addr: String,
        token: String,
        source: TokenSource,
        options: &Options,
    ) -> Result<Vault, AuthError> {
        Ok(Vault {
            addr,
            token,
            http: http(options).map_err(|e| auth_error("build the Vault HTTP client", e))?,
            source,
        })
    }

    /// Logs in at `auth/<mount>/login` with a role and a JWT (the
    /// `kubernetes` and `jwt` methods take the same body); returns a handle
    /// holding the new token, same address and source.
    pub fn jwt_login(&self, mount: &str, role: &str, jwt: &str) -> Result<Vault, VaultError> {
        let answer = self.call(
            reqwest::Method::POST,
            &format!("auth/{mount}/login"),
            Some(serde_json::json!({"role": role, "jwt": jwt})),
        )?;
        let token = answer["auth"]["client_token"]
            .as_str()
            .ok_or_else(|| VaultError::Answer("no client_token in the answer".into()))?;
        Ok(Vault {
            token: token.to_string(),
            ..self.clone()
        })
    }

    /// Whether an ambient `~/.vault-token` exists that this token's
    /// source (an explicit one) took precedence over.
    pub fn shadowed_file(&self) -> bool {
        self.source != TokenSource::File && home_token().is_some()
    }
}
