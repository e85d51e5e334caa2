//! The `sops` metadata block: wrapped data keys, MAC, selectors, version.

use serde_json::{Map, Value as J, json};

use crate::SopsError;
use crate::keys::VaultKey;

/// The version we write: a valid semver is required by the sops CLI.
pub const SOPS_VERSION: &str = "3.11.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeEntry {
    pub recipient: String,
    pub enc: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultEntry {
    pub key: VaultKey,
    pub created_at: String,
    pub enc: String,
}

/// Which values are encrypted (at most one selector, as in sops).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(String),
    EncryptedRegex(String),
}

impl Default for Selector {
    fn default() -> Self {
        Selector::UnencryptedSuffix("_unencrypted".into())
    }
}

impl Selector {
    fn field(&self) -> (&'static str, &str) {
        match self {
            Selector::UnencryptedSuffix(s) => ("unencrypted_suffix", s),
            Selector::EncryptedSuffix(s) => ("encrypted_suffix", s),
            Selector::UnencryptedRegex(s) => ("unencrypted_regex", s),
            Selector::EncryptedRegex(s) => ("encrypted_regex", s),
        }
    }

    /// Whether values are encrypted unless a key matches (true) or only
    /// when a key matches (false).
    pub fn encrypts_by_default(&self) -> bool {
        matches!(
            self,
            Selector::UnencryptedSuffix(_) | Selector::UnencryptedRegex(_)
        )
    }

    /// Whether map key `key` flips the default for its subtree.
    pub fn matches(&self, key: &str) -> Result<bool, SopsError> {
        Ok(match self {
            Selector::UnencryptedSuffix(s) | Selector::EncryptedSuffix(s) => {
                key.ends_with(s.as_str())
            }
            Selector::UnencryptedRegex(r) | Selector::EncryptedRegex(r) => regex::Regex::new(r)
                .map_err(|e| SopsError::Config(format!("invalid selector regex {r:?}: {e}")))?
                .is_match(key),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    pub age: Vec<AgeEntry>,
    pub hc_vault: Vec<VaultEntry>,
    pub lastmodified: String,
    pub mac: String,
    pub selector: Selector,
    pub mac_only_encrypted: bool,
    pub version: String,
}

impl Metadata {
    pub fn to_json(&self) -> J {
        let mut m = Map::new();
        if !self.hc_vault.is_empty() {
            let items: Vec<J> = self
                .hc_vault
                .iter()
                .map(|v| {
                    json!({
                        "vault_address": v.key.address,
                        "engine_path": v.key.engine_path,
                        "key_name": v.key.key_name,
                        "created_at": v.created_at,
                        "enc": v.enc,
                    })
                })
                .collect();
            m.insert("hc_vault".into(), J::Array(items));
        }
        if !self.age.is_empty() {
            let items: Vec<J> = self
                .age
                .iter()
                .map(|a| json!({"recipient": a.recipient, "enc": a.enc}))
                .collect();
            m.insert("age".into(), J::Array(items));
        }
        m.insert("lastmodified".into(), J::String(self.lastmodified.clone()));
        m.insert("mac".into(), J::String(self.mac.clone()));
        let (field, value) = self.selector.field();
        m.insert(field.into(), J::String(value.to_string()));
        if self.mac_only_encrypted {
            m.insert("mac_only_encrypted".into(), J::Bool(true));
        }
        m.insert("version".into(), J::String(self.version.clone()));
        J::Object(m)
    }

    pub fn from_json(j: &J) -> Result<Metadata, SopsError> {
        let bad = |what: &str| SopsError::Malformed(format!("sops metadata: {what}"));
        let obj = j.as_object().ok_or_else(|| bad("not an object"))?;
        let str_field =
            |o: &Map<String, J>, k: &str| o.get(k).and_then(J::as_str).map(str::to_string);
        // One key group may be written flat or as key_groups[0].
        let group = match obj.get("key_groups").and_then(J::as_array) {
            Some(groups) if groups.len() > 1 => {
                return Err(SopsError::Unsupported(
                    "files with several key groups (Shamir secret sharing) are not supported; put the Vault key and the age recipients in one group".into(),
                ));
            }
            Some(groups) => groups
                .first()
                .and_then(J::as_object)
                .ok_or_else(|| bad("key_groups[0] is not an object"))?,
            None => obj,
        };
        let list = |k: &str| {
            group
                .get(k)
                .and_then(J::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let age = list("age")
            .iter()
            .filter_map(J::as_object)
            .map(|a| {
                Ok(AgeEntry {
                    recipient: str_field(a, "recipient").ok_or_else(|| bad("age.recipient"))?,
                    enc: str_field(a, "enc").ok_or_else(|| bad("age.enc"))?,
                })
            })
            .collect::<Result<_, SopsError>>()?;
        let hc_vault = list("hc_vault")
            .iter()
            .filter_map(J::as_object)
            .map(|v| {
                Ok(VaultEntry {
                    key: VaultKey {
                        address: str_field(v, "vault_address")
                            .ok_or_else(|| bad("hc_vault.vault_address"))?,
                        engine_path: str_field(v, "engine_path")
                            .ok_or_else(|| bad("hc_vault.engine_path"))?,
                        key_name: str_field(v, "key_name")
                            .ok_or_else(|| bad("hc_vault.key_name"))?,
                    },
                    created_at: str_field(v, "created_at").unwrap_or_default(),
                    enc: str_field(v, "enc").ok_or_else(|| bad("hc_vault.enc"))?,
                })
            })
            .collect::<Result<_, SopsError>>()?;
        let selectors: Vec<Selector> = [
            (
                "unencrypted_suffix",
                Selector::UnencryptedSuffix as fn(String) -> Selector,
            ),
            ("encrypted_suffix", Selector::EncryptedSuffix),
            ("unencrypted_regex", Selector::UnencryptedRegex),
            ("encrypted_regex", Selector::EncryptedRegex),
        ]
        .into_iter()
        .filter_map(|(k, make)| str_field(obj, k).filter(|v| !v.is_empty()).map(make))
        .collect();
        if selectors.len() > 1 {
            return Err(bad(
                "more than one of the (un)encrypted_suffix/regex selectors is set",
            ));
        }
        Ok(Metadata {
            age,
            hc_vault,
            lastmodified: str_field(obj, "lastmodified")
                .ok_or_else(|| bad("lastmodified is missing"))?,
            mac: str_field(obj, "mac").ok_or_else(|| bad("mac is missing"))?,
            selector: selectors.into_iter().next().unwrap_or_default(),
            mac_only_encrypted: obj
                .get("mac_only_encrypted")
                .and_then(J::as_bool)
                .unwrap_or(false),
            version: str_field(obj, "version").ok_or_else(|| bad("version is missing"))?,
        })
    }
}
