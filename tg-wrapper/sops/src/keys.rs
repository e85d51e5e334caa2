//! Master keys that wrap the 32-byte data key: age recipients and Vault
//! (OpenBao) Transit keys, and where the identities come from.

use std::io::{Read, Write};
use std::str::FromStr;
use std::time::Duration;

use infra_clients::vault::VaultError;

use crate::SopsError;

/// A Vault Transit key: `<address>/v1/<engine_path>/keys/<key_name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKey {
    pub address: String,
    pub engine_path: String,
    pub key_name: String,
}

impl VaultKey {
    /// Parses the URI form used by `.sops.yaml` and `--hc-vault-transit`.
    pub fn from_uri(uri: &str) -> Result<VaultKey, SopsError> {
        let bad = || {
            SopsError::Config(format!(
                "{uri:?} is not a Vault Transit URI like https://vault:8200/v1/transit/keys/<key>"
            ))
        };
        let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
        let (host, path) = rest.split_once('/').ok_or_else(bad)?;
        let path = path.strip_prefix("v1/").ok_or_else(bad)?;
        let (engine, key) = path.rsplit_once("/keys/").ok_or_else(bad)?;
        if engine.is_empty() || key.is_empty() || key.contains('/') {
            return Err(bad());
        }
        Ok(VaultKey {
            address: format!("{scheme}://{host}"),
            engine_path: engine.to_string(),
            key_name: key.to_string(),
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "hc_vault {}/v1/{}/keys/{}",
            self.address, self.engine_path, self.key_name
        )
    }
}

/// Who a file is encrypted for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// `age1...` public keys.
    pub age: Vec<String>,
    pub vault: Vec<VaultKey>,
}

/// What we can decrypt with: age identities and a Vault token.
#[derive(Default)]
pub struct KeySources {
    pub age_identities: Vec<age::x25519::Identity>,
    pub vault_token: Option<String>,
    /// Per-request timeout for Vault calls.
    pub vault_timeout: Option<Duration>,
}

impl std::fmt::Debug for KeySources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(
            f,
            "KeySources({} age identities, vault token: {})",
            self.age_identities.len(),
            self.vault_token.is_some()
        )
    }
}

impl KeySources {
    /// Identities from `SOPS_AGE_KEY` / `SOPS_AGE_KEY_FILE`, the token from
    /// `VAULT_TOKEN` or `~/.vault-token` — the places sops looks.
    pub fn from_env() -> Result<KeySources, SopsError> {
        let mut keys = KeySources::default();
        if let Ok(text) = std::env::var("SOPS_AGE_KEY") {
            keys.age_identities
                .extend(parse_identities(&text, "SOPS_AGE_KEY")?);
        }
        if let Ok(path) = std::env::var("SOPS_AGE_KEY_FILE") {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SopsError::Config(format!("SOPS_AGE_KEY_FILE={path}: {e}")))?;
            keys.age_identities.extend(parse_identities(&text, &path)?);
        }
        keys.vault_token = infra_clients::vault::auth::ambient_token();
        Ok(keys)
    }
}

/// Parses age identity lines (`AGE-SECRET-KEY-1...`), ignoring comments.
pub fn parse_identities(text: &str, source: &str) -> Result<Vec<age::x25519::Identity>, SopsError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            age::x25519::Identity::from_str(l).map_err(|_| {
                SopsError::Config(format!("{source} holds a line that is not an age identity"))
            })
        })
        .collect()
}

/// Wraps the data key for an age recipient as an armored age file.
pub fn age_wrap(recipient: &str, data_key: &[u8]) -> Result<String, SopsError> {
    let r = age::x25519::Recipient::from_str(recipient)
        .map_err(|e| SopsError::Config(format!("{recipient:?} is not an age recipient: {e}")))?;
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
        .map_err(|e| SopsError::Age(e.to_string()))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    let mut w = enc
        .wrap_output(armor)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    w.write_all(data_key)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| SopsError::Age(e.to_string()))?;
    String::from_utf8(out).map_err(|e| SopsError::Age(e.to_string()))
}

/// Unwraps an armored age file with any of `identities`.
pub fn age_unwrap(enc: &str, identities: &[age::x25519::Identity]) -> Result<Vec<u8>, SopsError> {
    if identities.is_empty() {
        return Err(SopsError::Age(
            "no age identity (set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY)".into(),
        ));
    }
    let reader = age::armor::ArmoredReader::new(enc.as_bytes());
    let dec = age::Decryptor::new(reader).map_err(|e| SopsError::Age(e.to_string()))?;
    let mut r = dec
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| SopsError::Age(e.to_string()))?;
    let mut key = Vec::new();
    r.read_to_end(&mut key)
        .map_err(|e| SopsError::Age(e.to_string()))?;
    Ok(key)
}

/// A Vault handle for `key`'s address; 10 s per request unless the caller
/// set a timeout.
fn vault_for(
    key: &VaultKey,
    token: &str,
    timeout: Option<Duration>,
) -> Result<infra_clients::vault::Vault, SopsError> {
    let options = infra_clients::vault::Options {
        timeout: timeout.unwrap_or(Duration::from_secs(10)),
        ca_pem: None,
    };
    infra_clients::vault::Vault::with_token(&key.address, token, &options).map_err(SopsError::Vault)
}

/// `<key> <op>: ...` for a failed Transit call.
fn transit_error(key: &VaultKey, op: &str, e: VaultError) -> SopsError {
    let cause = match e {
        VaultError::Unreachable { cause, .. } => format!("Vault unreachable: {cause}"),
        VaultError::Status { status, errors, .. } => {
            format!("Code: {status}. Errors: {errors}")
        }
        VaultError::Answer(what) => what,
    };
    SopsError::Vault(format!("{} {op}: {cause}", key.describe()))
}

/// Encrypts the data key with Transit; returns the `vault:vN:...` text.
pub fn vault_wrap(
    key: &VaultKey,
    token: &str,
    data_key: &[u8],
    timeout: Option<Duration>,
) -> Result<String, SopsError> {
    vault_for(key, token, timeout)?
        .transit_encrypt(&key.engine_path, &key.key_name, data_key)
        .map_err(|e| transit_error(key, "encrypt", e))
}

/// Decrypts a Transit ciphertext back into the data key.
pub fn vault_unwrap(
    key: &VaultKey,
    token: &str,
    enc: &str,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, SopsError> {
    vault_for(key, token, timeout)?
        .transit_decrypt(&key.engine_path, &key.key_name, enc)
        .map_err(|e| transit_error(key, "decrypt", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_uri_parsing() {
        let k = VaultKey::from_uri("http://127.0.0.1:8200/v1/org/transit/keys/state").unwrap();
        assert_eq!(k.address, "http://127.0.0.1:8200");
        assert_eq!(k.engine_path, "org/transit");
        assert_eq!(k.key_name, "state");
        assert!(VaultKey::from_uri("http://x/prefix/v1/transit/keys/k").is_err());
        assert!(VaultKey::from_uri("not a uri").is_err());
    }

    #[test]
    fn age_round_trip() {
        let id = age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let enc = age_wrap(&recipient, &[1u8; 32]).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert_eq!(age_unwrap(&enc, &[id]).unwrap(), vec![1u8; 32]);
        let other = age::x25519::Identity::generate();
        assert!(age_unwrap(&enc, &[other]).is_err());
    }
}
