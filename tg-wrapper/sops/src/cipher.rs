//! The per-value cipher: AES-256-GCM with 32-byte IVs, the `ENC[...]` text
//! form, and the SHA-512 MAC.
//!
//! sops uses Go's `NewGCMWithNonceSize(32)`; RustCrypto's `AesGcm<Aes256,
//! U32>` is the same construction (J0 derived through GHASH), which
//! aws-lc-rs's AEAD API (96-bit nonces only) cannot express.

use aes_gcm::AesGcm;
use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::SopsError;

type Gcm32 = AesGcm<Aes256, U32>;

/// The type tag of an encrypted value (how its plaintext is to be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Bytes,
}

impl ValueType {
    fn tag(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Bytes => "bytes",
        }
    }

    fn parse(tag: &str) -> Option<ValueType> {
        Some(match tag {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "bytes" => ValueType::Bytes,
            _ => return None,
        })
    }
}

/// Fills `buf` with random bytes from the system RNG (aws-lc-rs).
pub fn random(buf: &mut [u8]) -> Result<(), SopsError> {
    use aws_lc_rs::rand::SecureRandom;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| SopsError::Crypto("the system random number generator failed".into()))
}

/// Encrypts `plain` under `key` with `aad` into sops' `ENC[...]` form.
pub fn encrypt(
    key: &[u8; 32],
    plain: &[u8],
    aad: &str,
    ty: ValueType,
) -> Result<String, SopsError> {
    let mut iv = [0u8; 32];
    random(&mut iv)?;
    encrypt_with_iv(key, &iv, plain, aad, ty)
}

pub fn encrypt_with_iv(
    key: &[u8; 32],
    iv: &[u8; 32],
    plain: &[u8],
    aad: &str,
    ty: ValueType,
) -> Result<String, SopsError> {
    let cipher = Gcm32::new(key.into());
    // In place: one copy of the plaintext, however large (20 MB states).
    let mut buf = plain.to_vec();
    let tag = cipher
        .encrypt_in_place_detached(iv.into(), aad.as_bytes(), &mut buf)
        .map_err(|_| SopsError::Crypto("AES-GCM encryption failed".into()))?;
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        B64.encode(&buf),
        B64.encode(iv),
        B64.encode(tag),
        ty.tag()
    ))
}

/// True when `s` looks like an encrypted sops value.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with("ENC[AES256_GCM,") && s.ends_with(']')
}

/// Decrypts an `ENC[...]` value; `what` names it in errors (never the data).
pub fn decrypt(
    key: &[u8; 32],
    enc: &str,
    aad: &str,
    what: &str,
) -> Result<(Vec<u8>, ValueType), SopsError> {
    let malformed =
        || SopsError::Malformed(format!("{what}: not a valid ENC[AES256_GCM,...] value"));
    let body = enc
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|s| s.strip_suffix(']'))
        .ok_or_else(malformed)?;
    let mut data = None;
    let mut iv = None;
    let mut tag = None;
    let mut ty = None;
    for part in body.split(',') {
        let (k, v) = part.split_once(':').ok_or_else(malformed)?;
        match k {
            "data" => data = Some(B64.decode(v).map_err(|_| malformed())?),
            "iv" => iv = Some(B64.decode(v).map_err(|_| malformed())?),
            "tag" => tag = Some(B64.decode(v).map_err(|_| malformed())?),
            "type" => ty = Some(ValueType::parse(v).ok_or_else(malformed)?),
            _ => return Err(malformed()),
        }
    }
    let (Some(mut data), Some(iv), Some(tag), Some(ty)) = (data, iv, tag, ty) else {
        return Err(malformed());
    };
    if iv.len() != 32 || tag.len() != 16 {
        return Err(malformed());
    }
    let cipher = Gcm32::new(key.into());
    cipher
        .decrypt_in_place_detached(
            iv.as_slice().into(),
            aad.as_bytes(),
            &mut data,
            tag.as_slice().into(),
        )
        .map_err(|_| SopsError::Tampered(what.to_string()))?;
    Ok((data, ty))
}

/// The MAC text: uppercase hex SHA-512 over the given plaintext parts.
pub fn mac(parts: &[&[u8]], only_encrypted: bool) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512);
    if only_encrypted {
        ctx.update(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"sops").as_ref());
    }
    for p in parts {
        ctx.update(p);
    }
    hex::encode_upper(ctx.finish().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let key = [7u8; 32];
        let enc = encrypt(&key, b"hello", "a:b:", ValueType::Str).unwrap();
        assert!(is_encrypted(&enc));
        assert_eq!(
            decrypt(&key, &enc, "a:b:", "a.b").unwrap(),
            (b"hello".to_vec(), ValueType::Str)
        );
        assert!(
            matches!(
                decrypt(&key, &enc, "a:c:", "a.b"),
                Err(SopsError::Tampered(_))
            ),
            "AAD binds the path"
        );
        assert!(matches!(
            decrypt(&[8u8; 32], &enc, "a:b:", "a.b"),
            Err(SopsError::Tampered(_))
        ));
        let flipped = enc.replacen("data:", "data:A", 1);
        assert!(decrypt(&key, &flipped, "a:b:", "a.b").is_err());
    }

    #[test]
    fn mac_is_uppercase_sha512_hex() {
        let m = mac(&[b"a", b"b"], false);
        assert_eq!(m.len(), 128);
        assert_eq!(m, m.to_uppercase());
        assert_eq!(m, mac(&[b"ab"], false));
    }
}
