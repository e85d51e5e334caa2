//! Kubernetes-style service-account tokens signed by a key the test holds,
//! and the OpenBao login that trusts that key: OpenBao's `jwt` auth method
//! mounted at `kubernetes` takes the same `{role, jwt}` login as Vault's
//! kubernetes method, so tg's whole Kubernetes login runs for real offline.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;

use crate::OpenBao;

/// DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey +
/// prime256v1, then a 66-byte BIT STRING): the uncompressed point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// A P-256 key for ES256 JWTs: (signing key, SPKI public key PEM).
pub fn jwt_key() -> (EcdsaKeyPair, String) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
    let mut spki = P256_SPKI_PREFIX.to_vec();
    spki.extend_from_slice(key.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    (key, pem)
}

/// A Kubernetes-style service-account token for `sub` (audience `vault`,
/// valid for ten minutes), signed ES256 with `key`.
pub fn service_account_jwt(key: &EcdsaKeyPair, sub: &str) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let header = b64(br#"{"alg":"ES256","typ":"JWT"}"#);
    let claims = b64(serde_json::json!({
        "iss": "https://kubernetes.default.svc",
        "sub": sub, "aud": ["vault"], "iat": now, "nbf": now, "exp": now + 600,
    })
    .to_string()
    .as_bytes());
    let signing_input = format!("{header}.{claims}");
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let sig = key
        .sign(&rng, signing_input.as_bytes())
        .expect("ES256 signature");
    format!("{signing_input}.{}", b64(sig.as_ref()))
}

impl OpenBao {
    /// Mounts OpenBao's `jwt` auth method at `kubernetes`, trusting tokens
    /// signed by `public_key_pem` (from [`jwt_key`]), with one role `role`
    /// that admits only `subject` (audience `vault`) and grants `policies`
    /// (comma-separated).
    pub fn enable_kubernetes_jwt_login(
        &self,
        public_key_pem: &str,
        role: &str,
        subject: &str,
        policies: &str,
    ) {
        let pem = self.dir.path().join("service-account.pub.pem");
        std::fs::write(&pem, public_key_pem).expect("write the service-account public key");
        self.bao(&["auth", "enable", "-path=kubernetes", "jwt"]);
        self.bao(&[
            "write",
            "auth/kubernetes/config",
            &format!("jwt_validation_pubkeys=@{}", pem.display()),
        ]);
        self.bao(&[
            "write",
            &format!("auth/kubernetes/role/{role}"),
            "role_type=jwt",
            "user_claim=sub",
            "bound_audiences=vault",
            &format!("bound_subject={subject}"),
            &format!("token_policies={policies}"),
        ]);
    }
}
