//! `sops-rs`: the SOPS v3 file format, byte-compatible with `sops` 3.x.
//!
//! A file holds a document whose leaf values are each encrypted with
//! AES-256-GCM under one random 32-byte data key (AAD = the map keys on the
//! path joined by `:`), a SHA-512 MAC over all plaintext values (encrypted
//! with `lastmodified` as AAD), and the data key wrapped for every master
//! key (age recipients, Vault Transit keys) in the `sops` block.
//!
//! Three formats, chosen by file name as sops does: `.json`, `.yaml`/`.yml`
//! trees, and **binary** for everything else — a `terraform.tfstate` is
//! stored as `{"data": "ENC[...]", "sops": {...}}`, byte-exact on decrypt.
//!
//! ```no_run
//! use sops_rs::{KeySources, Recipients};
//! let keys = KeySources::from_env()?;
//! let file = std::fs::read("state/stacks/infra/terraform.tfstate")?;
//! let (plain, opened) = sops_rs::decrypt_binary(&file, &keys)?;
//! // ... change the state ...
//! let again = sops_rs::encrypt_binary(&plain, &opened.recipients(), Some(&opened), &keys)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Decryption tries Vault Transit first and falls back to age (the Tier-0
//! rule: Vault when it is up, the break-glass age key when it is not).
//! Re-encrypting with the previous [`Decrypted`] reuses its data key and,
//! for unchanged recipients, its wrapped keys, so no Vault call is needed
//! and git diffs stay small.

pub mod cipher;
pub mod config;
pub mod keys;
pub mod metadata;
pub mod tree;

use std::path::Path;

pub use config::{CreationRule, creation_rule_for, find_config};
pub use keys::{KeySources, Recipients, VaultKey};
pub use metadata::{Metadata, SOPS_VERSION, Selector};
pub use tree::Node;

use cipher::ValueType;
use metadata::{AgeEntry, VaultEntry};

/// Everything that can go wrong. Messages name the file part or key that
/// failed, never plaintext or key material.
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    #[error("malformed sops file: {0}")]
    Malformed(String),
    #[error("value {0} failed authentication: the file was tampered with or the data key is wrong")]
    Tampered(String),
    #[error("MAC mismatch: the file's values were changed, reordered or removed after encryption")]
    MacMismatch,
    #[error("could not decrypt the data key with any master key:\n{}", .0.join("\n"))]
    NoKey(Vec<String>),
    #[error("Vault: {0}")]
    Vault(String),
    #[error("age: {0}")]
    Age(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("crypto: {0}")]
    Crypto(String),
}

/// How a file's document is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Binary,
    Json,
    Yaml,
}

impl Format {
    /// By extension, as sops decides: `.json`, `.yaml`/`.yml`, else binary.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            Some("yaml" | "yml") => Format::Yaml,
            _ => Format::Binary,
        }
    }
}

/// Encryption choices for a new file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EncryptOptions {
    pub selector: Selector,
    pub mac_only_encrypted: bool,
}

/// A decrypted file: its plaintext tree, data key and metadata.
pub struct Decrypted {
    pub tree: Node,
    pub metadata: Metadata,
    data_key: [u8; 32],
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the plaintext or the data key.
        write!(
            f,
            "Decrypted {{ version: {}, lastmodified: {} }}",
            self.metadata.version, self.metadata.lastmodified
        )
    }
}

impl Decrypted {
    /// The recipients the file is encrypted for.
    pub fn recipients(&self) -> Recipients {
        Recipients {
            age: self
                .metadata
                .age
                .iter()
                .map(|a| a.recipient.clone())
                .collect(),
            vault: self
                .metadata
                .hc_vault
                .iter()
                .map(|v| v.key.clone())
                .collect(),
        }
    }

    pub fn options(&self) -> EncryptOptions {
        EncryptOptions {
            selector: self.metadata.selector.clone(),
            mac_only_encrypted: self.metadata.mac_only_encrypted,
        }
    }
}

// ------------------------------------------------------------ binary mode --

/// The binary-mode envelope, read without copying the large `data` string.
#[derive(serde::Deserialize)]
struct BinaryFile<'a> {
    #[serde(borrow)]
    data: std::borrow::Cow<'a, str>,
    sops: serde_json::Value,
}

/// Decrypts a binary-mode file (e.g. an encrypted `terraform.tfstate`).
///
/// A fast path of [`decrypt`] for the one-value document: states are large
/// (tens of MB), so the value is never copied into a tree.
pub fn decrypt_binary(file: &[u8], keys: &KeySources) -> Result<(Vec<u8>, Decrypted), SopsError> {
    let env: BinaryFile = serde_json::from_slice(file).map_err(|e| {
        SopsError::Malformed(format!(
            "not a binary-mode sops file (`data` + `sops`): {e}"
        ))
    })?;
    let metadata = Metadata::from_json(&env.sops)?;
    let data_key = unwrap_data_key(&metadata, keys)?;
    let (plain, _) = cipher::decrypt(&data_key, &env.data, "data:", "data")?;
    let (stored_mac, _) =
        cipher::decrypt(&data_key, &metadata.mac, &metadata.lastmodified, "sops.mac")?;
    if cipher::mac(&[&plain], metadata.mac_only_encrypted).as_bytes() != stored_mac.as_slice() {
        return Err(SopsError::MacMismatch);
    }
    Ok((
        plain,
        Decrypted {
            tree: Node::Map(Vec::new()),
            metadata,
            data_key,
        },
    ))
}

/// Encrypts bytes in binary mode (the format `sops` uses for `.tfstate`).
pub fn encrypt_binary(
    plain: &[u8],
    recipients: &Recipients,
    previous: Option<&Decrypted>,
    keys: &KeySources,
) -> Result<Vec<u8>, SopsError> {
    if std::str::from_utf8(plain).is_err() {
        return Err(SopsError::Unsupported(
            "binary mode stores text; the input is not UTF-8".into(),
        ));
    }
    let (data_key, age, hc_vault, now) = wrap_keys(recipients, previous, keys)?;
    let data = cipher::encrypt(&data_key, plain, "data:", ValueType::Str)?;
    let metadata = seal(
        &data_key,
        &[plain],
        age,
        hc_vault,
        now,
        &EncryptOptions::default(),
    )?;
    let mut doc = serde_json::Map::new();
    doc.insert("data".into(), serde_json::Value::String(data));
    doc.insert("sops".into(), metadata.to_json());
    write_json(&serde_json::Value::Object(doc))
}

// ------------------------------------------------------------- any format --

fn parse_document(file: &[u8], format: Format) -> Result<Node, SopsError> {
    match format {
        Format::Binary | Format::Json => {
            let j: serde_json::Value = serde_json::from_slice(file)
                .map_err(|e| SopsError::Malformed(format!("not JSON: {e}")))?;
            Ok(Node::from_json(&j))
        }
        Format::Yaml => {
            let y: serde_yaml::Value = serde_yaml::from_slice(file)
                .map_err(|e| SopsError::Malformed(format!("not YAML: {e}")))?;
            Node::from_yaml(&y)
        }
    }
}

/// Decrypts a file and verifies its MAC.
pub fn decrypt(file: &[u8], format: Format, keys: &KeySources) -> Result<Decrypted, SopsError> {
    let Node::Map(entries) = parse_document(file, format)? else {
        return Err(SopsError::Malformed("the document is not a map".into()));
    };
    let (sops, body): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| k == "sops");
    let sops = sops
        .into_iter()
        .next()
        .ok_or_else(|| {
            SopsError::Malformed("no `sops` metadata: the file is not encrypted".into())
        })?
        .1;
    let metadata = Metadata::from_json(&sops.to_json()?)?;
    let data_key = unwrap_data_key(&metadata, keys)?;
    let mut mac_parts = Vec::new();
    let tree = walk_decrypt(
        &Node::Map(body),
        &data_key,
        &mut Vec::new(),
        &mut mac_parts,
        &metadata,
    )?;
    let (stored_mac, _) =
        cipher::decrypt(&data_key, &metadata.mac, &metadata.lastmodified, "sops.mac")?;
    let parts: Vec<&[u8]> = mac_parts.iter().map(Vec::as_slice).collect();
    if cipher::mac(&parts, metadata.mac_only_encrypted).as_bytes() != stored_mac.as_slice() {
        return Err(SopsError::MacMismatch);
    }
    Ok(Decrypted {
        tree,
        metadata,
        data_key,
    })
}

fn unwrap_data_key(m: &Metadata, keys: &KeySources) -> Result<[u8; 32], SopsError> {
    let mut errors = Vec::new();
    let to_key = |k: Vec<u8>| {
        <[u8; 32]>::try_from(k.as_slice())
            .map_err(|_| "the unwrapped data key is not 32 bytes".to_string())
    };
    for v in &m.hc_vault {
        let attempt = match &keys.vault_token {
            None => Err("no Vault token (VAULT_TOKEN or ~/.vault-token)".to_string()),
            Some(t) => keys::vault_unwrap(&v.key, t, &v.enc, keys.vault_timeout)
                .map_err(|e| e.to_string())
                .and_then(to_key),
        };
        match attempt {
            Ok(k) => return Ok(k),
            Err(e) => errors.push(format!("  {}: {e}", v.key.describe())),
        }
    }
    for a in &m.age {
        match keys::age_unwrap(&a.enc, &keys.age_identities)
            .map_err(|e| e.to_string())
            .and_then(to_key)
        {
            Ok(k) => return Ok(k),
            Err(e) => errors.push(format!("  age {}: {e}", a.recipient)),
        }
    }
    if errors.is_empty() {
        errors.push("  the file names no age or hc_vault key".into());
    }
    Err(SopsError::NoKey(errors))
}

fn leaf_bytes(node: &Node) -> Option<(Vec<u8>, ValueType)> {
    Some(match node {
        Node::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
        Node::Int(t) => (t.as_bytes().to_vec(), ValueType::Int),
        Node::Float(t) => (t.as_bytes().to_vec(), ValueType::Float),
        Node::Bool(b) => (
            (if *b { "True" } else { "False" }).as_bytes().to_vec(),
            ValueType::Bool,
        ),
        Node::Null | Node::Map(_) | Node::List(_) => return None,
    })
}

fn aad(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

fn walk_decrypt(
    node: &Node,
    key: &[u8; 32],
    path: &mut Vec<String>,
    mac: &mut Vec<Vec<u8>>,
    m: &Metadata,
) -> Result<Node, SopsError> {
    match node {
        Node::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                path.push(k.clone());
                out.push((k.clone(), walk_decrypt(v, key, path, mac, m)?));
                path.pop();
            }
            Ok(Node::Map(out))
        }
        Node::List(items) => Ok(Node::List(
            items
                .iter()
                .map(|i| walk_decrypt(i, key, path, mac, m))
                .collect::<Result<_, _>>()?,
        )),
        Node::Str(s) if cipher::is_encrypted(s) => {
            let (plain, ty) = cipher::decrypt(key, s, &aad(path), &path.join("."))?;
            mac.push(plain.clone());
            let text = || {
                String::from_utf8(plain.clone()).map_err(|_| {
                    SopsError::Malformed(format!("{}: value is not UTF-8", path.join(".")))
                })
            };
            Ok(match ty {
                ValueType::Str | ValueType::Bytes => Node::Str(text()?),
                ValueType::Int => Node::Int(text()?),
                ValueType::Float => Node::Float(text()?),
                ValueType::Bool => Node::Bool(text()? == "True"),
            })
        }
        leaf => {
            if !m.mac_only_encrypted
                && let Some((bytes, _)) = leaf_bytes(leaf)
            {
                mac.push(bytes);
            }
            Ok(leaf.clone())
        }
    }
}

/// Encrypts a document for `recipients`. With `previous`, its data key is
/// reused and so are the wrapped keys of recipients that did not change.
pub fn encrypt(
    tree: &Node,
    format: Format,
    recipients: &Recipients,
    options: &EncryptOptions,
    previous: Option<&Decrypted>,
    keys: &KeySources,
) -> Result<Vec<u8>, SopsError> {
    let Node::Map(entries) = tree else {
        return Err(SopsError::Unsupported(
            "the document must be a map at the top".into(),
        ));
    };
    if entries.iter().any(|(k, _)| k == "sops") {
        return Err(SopsError::Unsupported(
            "the document already has a `sops` key (already encrypted?)".into(),
        ));
    }
    let (data_key, age, hc_vault, now) = wrap_keys(recipients, previous, keys)?;
    let mut mac_parts = Vec::new();
    let default_on = options.selector.encrypts_by_default();
    let Node::Map(mut out) = walk_encrypt(
        tree,
        &data_key,
        &mut Vec::new(),
        &mut mac_parts,
        options,
        default_on,
    )?
    else {
        return Err(SopsError::Malformed(
            "the document must be a map at the top".into(),
        ));
    };
    let parts: Vec<&[u8]> = mac_parts.iter().map(Vec::as_slice).collect();
    let metadata = seal(&data_key, &parts, age, hc_vault, now, options)?;
    out.push(("sops".into(), Node::from_json(&metadata.to_json())));
    match format {
        Format::Binary | Format::Json => write_json(&Node::Map(out).to_json()?),
        Format::Yaml => serde_yaml::to_string(&Node::Map(out).to_yaml()?)
            .map(String::into_bytes)
            .map_err(|e| SopsError::Malformed(e.to_string())),
    }
}

type Wrapped = ([u8; 32], Vec<AgeEntry>, Vec<VaultEntry>, String);

/// The data key (reused from `previous`, else fresh) wrapped for every
/// recipient; unchanged recipients keep their previous wrapped key.
fn wrap_keys(
    recipients: &Recipients,
    previous: Option<&Decrypted>,
    keys: &KeySources,
) -> Result<Wrapped, SopsError> {
    if recipients.age.is_empty() && recipients.vault.is_empty() {
        return Err(SopsError::Config(
            "no recipients: name at least one age recipient or Vault Transit key".into(),
        ));
    }
    let data_key = match previous {
        Some(p) => p.data_key,
        None => {
            let mut k = [0u8; 32];
            cipher::random(&mut k)?;
            k
        }
    };
    let now = utc_now_rfc3339();
    let mut age = Vec::new();
    for r in &recipients.age {
        let reused = previous
            .and_then(|p| p.metadata.age.iter().find(|a| &a.recipient == r))
            .cloned();
        age.push(match reused {
            Some(a) => a,
            None => AgeEntry {
                recipient: r.clone(),
                enc: keys::age_wrap(r, &data_key)?,
            },
        });
    }
    let mut hc_vault = Vec::new();
    for v in &recipients.vault {
        let reused = previous
            .and_then(|p| p.metadata.hc_vault.iter().find(|e| &e.key == v))
            .cloned();
        hc_vault.push(match reused {
            Some(e) => e,
            None => {
                let token = keys.vault_token.as_deref().ok_or_else(|| {
                    SopsError::Vault(format!(
                        "{}: no Vault token (VAULT_TOKEN or ~/.vault-token) to wrap the data key",
                        v.describe()
                    ))
                })?;
                VaultEntry {
                    key: v.clone(),
                    created_at: now.clone(),
                    enc: keys::vault_wrap(v, token, &data_key, keys.vault_timeout)?,
                }
            }
        });
    }
    Ok((data_key, age, hc_vault, now))
}

/// The metadata block with the MAC over `mac_parts`, encrypted with
/// `lastmodified` as AAD.
fn seal(
    data_key: &[u8; 32],
    mac_parts: &[&[u8]],
    age: Vec<AgeEntry>,
    hc_vault: Vec<VaultEntry>,
    now: String,
    options: &EncryptOptions,
) -> Result<Metadata, SopsError> {
    let mac_text = cipher::mac(mac_parts, options.mac_only_encrypted);
    Ok(Metadata {
        age,
        hc_vault,
        mac: cipher::encrypt(data_key, mac_text.as_bytes(), &now, ValueType::Str)?,
        lastmodified: now,
        selector: options.selector.clone(),
        mac_only_encrypted: options.mac_only_encrypted,
        version: SOPS_VERSION.to_string(),
    })
}

/// sops' JSON layout: tab indentation, trailing newline.
fn write_json(doc: &serde_json::Value) -> Result<Vec<u8>, SopsError> {
    use serde::Serialize;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    doc.serialize(&mut ser)
        .map_err(|e| SopsError::Malformed(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

fn walk_encrypt(
    node: &Node,
    key: &[u8; 32],
    path: &mut Vec<String>,
    mac: &mut Vec<Vec<u8>>,
    o: &EncryptOptions,
    on: bool,
) -> Result<Node, SopsError> {
    match node {
        Node::Map(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let flips = o.selector.matches(k)?;
                let child_on = if flips {
                    !o.selector.encrypts_by_default()
                } else {
                    on
                };
                path.push(k.clone());
                out.push((k.clone(), walk_encrypt(v, key, path, mac, o, child_on)?));
                path.pop();
            }
            Ok(Node::Map(out))
        }
        Node::List(items) => Ok(Node::List(
            items
                .iter()
                .map(|i| walk_encrypt(i, key, path, mac, o, on))
                .collect::<Result<_, _>>()?,
        )),
        leaf => {
            let Some((bytes, ty)) = leaf_bytes(leaf) else {
                return Ok(leaf.clone());
            };
            // sops leaves empty strings in clear.
            let encrypt_it = on && !(ty == ValueType::Str && bytes.is_empty());
            if encrypt_it || !o.mac_only_encrypted {
                mac.push(bytes.clone());
            }
            if encrypt_it {
                Ok(Node::Str(cipher::encrypt(key, &bytes, &aad(path), ty)?))
            } else {
                Ok(leaf.clone())
            }
        }
    }
}

/// `lastmodified`: RFC 3339 UTC, second precision (`2026-11-24T01:52:44Z`).
fn utc_now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    now.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age_keys() -> (KeySources, Recipients) {
        let id = age::x25519::Identity::generate();
        let r = Recipients {
            age: vec![id.to_public().to_string()],
            vault: Vec::new(),
        };
        (
            KeySources {
                age_identities: vec![id],
                ..KeySources::default()
            },
            r,
        )
    }

    #[test]
    fn binary_round_trip_is_byte_exact_and_reuses_the_data_key() {
        let (keys, r) = age_keys();
        let state = b"{\n  \"version\": 4,\n  \"serial\": 12345678901234567890\n}\n";
        let enc = encrypt_binary(state, &r, None, &keys).unwrap();
        let (plain, d) = decrypt_binary(&enc, &keys).unwrap();
        assert_eq!(plain, state);
        let again = encrypt_binary(&plain, &d.recipients(), Some(&d), &keys).unwrap();
        let (_, d2) = decrypt_binary(&again, &keys).unwrap();
        assert_eq!(d.data_key, d2.data_key);
        assert_eq!(
            d.metadata.age, d2.metadata.age,
            "wrapped key reused: small diffs"
        );
    }

    #[test]
    fn tampering_is_refused() {
        let (keys, r) = age_keys();
        let enc =
            String::from_utf8(encrypt_binary(b"secret state", &r, None, &keys).unwrap()).unwrap();
        let j: serde_json::Value = serde_json::from_str(&enc).unwrap();
        // Swap the data value for another valid encryption under a different path.
        let mut t = j.clone();
        t["sops"]["mac"] = j["data"].clone();
        let err = decrypt_binary(t.to_string().as_bytes(), &keys).unwrap_err();
        assert!(matches!(err, SopsError::Tampered(_)), "{err}");
        let (other, _) = age_keys();
        assert!(matches!(
            decrypt_binary(enc.as_bytes(), &other),
            Err(SopsError::NoKey(_))
        ));
    }

    #[test]
    fn json_tree_keeps_order_numbers_and_unencrypted_suffix() {
        let (keys, r) = age_keys();
        let text = r#"{"b":{"password":"p","note_unencrypted":"visible","n":12345678901234567890,"f":1.5,"ok":true,"none":null,"e":""},"a":[1,2]}"#;
        let tree = Node::from_json(&serde_json::from_str(text).unwrap());
        let enc = encrypt(
            &tree,
            Format::Json,
            &r,
            &EncryptOptions::default(),
            None,
            &keys,
        )
        .unwrap();
        let enc_text = String::from_utf8(enc.clone()).unwrap();
        assert!(enc_text.contains("\"visible\"") && !enc_text.contains("\"p\""));
        let d = decrypt(&enc, Format::Json, &keys).unwrap();
        assert_eq!(
            serde_json::to_string(&d.tree.to_json().unwrap()).unwrap(),
            text
        );
    }

    #[test]
    fn mac_detects_removed_values() {
        let (keys, r) = age_keys();
        let tree = Node::from_json(&serde_json::json!({"a": "1", "b": "2"}));
        let enc = encrypt(
            &tree,
            Format::Json,
            &r,
            &EncryptOptions::default(),
            None,
            &keys,
        )
        .unwrap();
        let mut j: serde_json::Value = serde_json::from_slice(&enc).unwrap();
        j.as_object_mut().unwrap().remove("b");
        assert!(matches!(
            decrypt(j.to_string().as_bytes(), Format::Json, &keys),
            Err(SopsError::MacMismatch)
        ));
    }
}
