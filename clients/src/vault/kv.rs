//! KV v2 entries with check-and-set: the version-checked writes a lock or
//! any read-modify-write on a shared entry needs.

use super::{Vault, VaultError};

/// The current version of a KV v2 entry.
#[derive(Debug, Clone)]
pub struct KvEntry {
    pub version: u64,
    /// When this version was written, on Vault's clock.
    pub created_time: time::OffsetDateTime,
    /// The entry's data (`data.data`).
    pub data: serde_json::Value,
    /// Vault's clock when it answered (its `Date`), if it sent one.
    pub server_time: Option<time::OffsetDateTime>,
}

/// Vault's answer to a write whose `cas` no longer matched (400 with
/// "check-and-set parameter did not match the current version").
fn is_cas_mismatch(e: &VaultError) -> bool {
    matches!(e, VaultError::Status { status: 400, errors, .. } if errors.contains("check-and-set"))
}

impl Vault {
    /// Reads `<mount>/data/<path>`; `None` when it has no readable version
    /// (never written, or its latest version deleted).
    pub fn kv_read(&self, mount: &str, path: &str) -> Result<Option<KvEntry>, VaultError> {
        let (json, server_time) =
            match self.call_dated(reqwest::Method::GET, &format!("{mount}/data/{path}"), None) {
                Ok(answer) => answer,
                Err(e) if e.status() == Some(404) => return Ok(None),
                Err(e) => return Err(e),
            };
        let meta = &json["data"]["metadata"];
        let version = meta["version"].as_u64().ok_or_else(|| {
            VaultError::Answer(format!(
                "the KV entry {mount}/{path} has no version in Vault's answer"
            ))
        })?;
        let created_time = meta["created_time"]
            .as_str()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .ok_or_else(|| {
                VaultError::Answer(format!(
                    "the KV entry {mount}/{path} has no created_time in Vault's answer"
                ))
            })?;
        Ok(Some(KvEntry {
            version,
            created_time,
            data: json["data"]["data"].clone(),
            server_time,
        }))
    }

    /// Writes `data` to `<mount>/data/<path>` only if the entry's current
    /// version is `cas` (0: the entry must not exist). `Ok(Some(version))`
    /// is the version written; `Ok(None)` means another writer got there
    /// first.
    pub fn kv_write_cas(
        &self,
        mount: &str,
        path: &str,
        cas: u64,
        data: &serde_json::Value,
    ) -> Result<Option<u64>, VaultError> {
        let body = serde_json::json!({"options": {"cas": cas}, "data": data});
        match self.call(
            reqwest::Method::POST,
            &format!("{mount}/data/{path}"),
            Some(body),
        ) {
            Ok(json) => json["data"]["version"].as_u64().map(Some).ok_or_else(|| {
                VaultError::Answer(format!(
                    "Vault's answer to writing {mount}/{path} has no version"
                ))
            }),
            Err(e) if is_cas_mismatch(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entry's latest version number from its metadata (0 when it has
    /// none): what a check-and-set write must name when the latest version
    /// was deleted, which reads as 404 but keeps counting versions.
    pub fn kv_current_version(&self, mount: &str, path: &str) -> Result<u64, VaultError> {
        match self.call(
            reqwest::Method::GET,
            &format!("{mount}/metadata/{path}"),
            None,
        ) {
            Ok(json) => Ok(json["data"]["current_version"].as_u64().unwrap_or(0)),
            Err(e) if e.status() == Some(404) => Ok(0),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_400_naming_check_and_set_is_a_lost_race() {
        let status = |status, errors: &str| VaultError::Status {
            url: "u".into(),
            status,
            errors: errors.into(),
        };
        assert!(is_cas_mismatch(&status(
            400,
            "check-and-set parameter did not match the current version"
        )));
        assert!(!is_cas_mismatch(&status(400, "invalid request")));
        assert!(!is_cas_mismatch(&status(403, "check-and-set")));
        assert!(!is_cas_mismatch(&VaultError::Answer(
            "check-and-set".into()
        )));
    }
}
