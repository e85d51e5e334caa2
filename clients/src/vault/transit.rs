//! Transit encryption: a key that never leaves Vault wraps small secrets
//! (a SOPS data key).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::{Vault, VaultError};

impl Vault {
    /// Encrypts `plaintext` with `<engine>/keys/<key>`; returns Vault's
    /// `vault:vN:...` ciphertext.
    pub fn transit_encrypt(
        &self,
        engine: &str,
        key: &str,
        plaintext: &[u8],
    ) -> Result<String, VaultError> {
        let json = self.call(
            reqwest::Method::PUT,
            &format!("{engine}/encrypt/{key}"),
            Some(serde_json::json!({ "plaintext": B64.encode(plaintext) })),
        )?;
        json["data"]["ciphertext"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| VaultError::Answer("no ciphertext in the answer".into()))
    }

    /// Decrypts a `vault:vN:...` ciphertext of `<engine>/keys/<key>`.
    pub fn transit_decrypt(
        &self,
        engine: &str,
        key: &str,
        ciphertext: &str,
    ) -> Result<Vec<u8>, VaultError> {
        let json = self.call(
            reqwest::Method::PUT,
            &format!("{engine}/decrypt/{key}"),
            Some(serde_json::json!({ "ciphertext": ciphertext })),
        )?;
        let b64 = json["data"]["plaintext"]
            .as_str()
            .ok_or_else(|| VaultError::Answer("no plaintext in the answer".into()))?;
        B64.decode(b64)
            .map_err(|_| VaultError::Answer("plaintext is not base64".into()))
    }
}
