//! Master keys that wrap the 32-byte data key: age recipients and Vault
//! (OpenBao) Transit keys, and where the identities come from.

use std::io::{Read, Write};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

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

    fn url(&self, op: &str) -> String {
        format!(
            "{}/v1/{}/{op}/{}",
            self.address.trim_end_matches('/'),
            self.engine_path,
            self.key_name
        )
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
        keys.vault_token = std::env::var("VAULT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| {
                let home = std::env::var_os("HOME")?;
                let t = std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token"))
                    .ok()?;
                Some(t.trim().to_string()).filter(|t| !t.is_empty())
            });
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

fn vault_client(timeout: Option<Duration>) -> Result<reqwest::blocking::Client, SopsError> {
    reqwest::blocking::Client::builder()
        .timeout(timeout.unwrap_or(Duration::from_secs(10)))
        .build()
        .map_err(|e| SopsError::Vault(format!("cannot build an HTTP client: {e}")))
}

/// Longest error text [`vault_errors`] passes on, in characters: enough for
/// Vault's messages ("permission denied", "Vault is sealed"), short enough
/// that a misbehaving server or proxy cannot flood the log.
const VAULT_ERRORS_MAX_CHARS: usize = 300;

/// The `errors` array of a Vault (or OpenBao) error answer as one line of
/// text, joined with "; ". The text comes from the network, so it is made
/// safe to print: control characters are dropped (whitespace ones become a
/// space, so an embedded newline cannot forge log lines or split the
/// one-line messages that retry classification matches), and it is capped
/// at 300 characters with an ellipsis. Vault's own error strings carry no
/// secrets. Says "(no error text)" when the answer has none (not JSON, no
/// `errors` array, or only empty entries).
pub fn vault_errors(answer: &serde_json::Value) -> String {
    let printable = |text: &str| -> String {
        text.chars()
            .filter_map(|c| match c {
                c if c.is_control() && c.is_whitespace() => Some(' '),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect::<String>()
            .trim()
            .to_string()
    };
    let joined = answer["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str())
                .map(printable)
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if joined.is_empty() {
        return "(no error text)".to_string();
    }
    match joined.char_indices().nth(VAULT_ERRORS_MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

fn vault_call(
    key: &VaultKey,
    op: &str,
    token: &str,
    body: serde_json::Value,
    timeout: Option<Duration>,
) -> Result<serde_json::Value, SopsError> {
    let url = key.url(op);
    let resp = vault_client(timeout)?
        .put(&url)
        .header("X-Vault-Token", token)
        .json(&body)
        .send()
        .map_err(|e| {
            SopsError::Vault(format!("{} {op}: Vault unreachable: {e}", key.describe()))
        })?;
    let status = resp.status();
    let json: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        return Err(SopsError::Vault(format!(
            "{} {op}: Code: {}. Errors: {}",
            key.describe(),
            status.as_u16(),
            vault_errors(&json)
        )));
    }
    Ok(json)
}

/// Encrypts the data key with Transit; returns the `vault:vN:...` text.
pub fn vault_wrap(
    key: &VaultKey,
    token: &str,
    data_key: &[u8],
    timeout: Option<Duration>,
) -> Result<String, SopsError> {
    let json = vault_call(
        key,
        "encrypt",
        token,
        serde_json::json!({ "plaintext": B64.encode(data_key) }),
        timeout,
    )?;
    json["data"]["ciphertext"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            SopsError::Vault(format!(
                "{} encrypt: no ciphertext in the answer",
                key.describe()
            ))
        })
}

/// Decrypts a Transit ciphertext back into the data key.
pub fn vault_unwrap(
    key: &VaultKey,
    token: &str,
    enc: &str,
    timeout: Option<Duration>,
) -> Result<Vec<u8>, SopsError> {
    let json = vault_call(
        key,
        "decrypt",
        token,
        serde_json::json!({ "ciphertext": enc }),
        timeout,
    )?;
    let b64 = json["data"]["plaintext"].as_str().ok_or_else(|| {
        SopsError::Vault(format!(
            "{} decrypt: no plaintext in the answer",
            key.describe()
        ))
    })?;
    B64.decode(b64).map_err(|_| {
        SopsError::Vault(format!(
            "{} decrypt: plaintext is not base64",
            key.describe()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_errors_joins_the_errors_array() {
        let answer =
            serde_json::json!({ "errors": ["permission denied", 7, "", "1 error occurred"] });
        assert_eq!(vault_errors(&answer), "permission denied; 1 error occurred");
    }

    #[test]
    fn vault_errors_strips_control_characters() {
        let answer =
            serde_json::json!({ "errors": ["denied\nFAKE LOG LINE\r\t\u{1b}[31mred\u{0}\u{7f}"] });
        assert_eq!(vault_errors(&answer), "denied FAKE LOG LINE  [31mred");
    }

    #[test]
    fn vault_errors_caps_long_text() {
        let answer = serde_json::json!({ "errors": ["é".repeat(1000)] });
        let text = vault_errors(&answer);
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
            assert_eq!(vault_errors(&answer), "(no error text)", "{answer}");
        }
    }

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
