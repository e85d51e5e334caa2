//! tg's use of the shared Vault client ([`infra_clients::vault`]): the
//! token in tg's order, failures as tg step errors, and the SOPS key
//! sources with that token.

pub use infra_clients::vault::{TokenSource, Vault, VaultError};

use crate::error::TgError;

/// `VAULT_ADDR` plus a token from, in this order, `VAULT_TOKEN`, a
/// Kubernetes login (`VAULT_K8S_ROLE`, service-account JWT), or
/// `~/.vault-token` ([`Vault::from_env`]). A failed login is an error,
/// never a fallback to the ambient file.
pub fn from_env() -> Result<Vault, TgError> {
    Vault::from_env().map_err(|e| TgError::step(e.step, e.cause))
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
        keys.vault_token = Some(from_env()?.token().to_string());
    }
    Ok(keys)
}
