//! Explicit Vault credentials win over the ambient `~/.vault-token`: an
//! explicit `VAULT_TOKEN`, then a Kubernetes login with `VAULT_K8S_ROLE`,
//! and only then the file (seeds/001 lines 731-760: a stale read-only
//! `~/.vault-token` shadowed the token meant for the job). `tg doctor`
//! says which source it used. Against a real OpenBao, whose `jwt` auth
//! method mounted as `kubernetes` takes the same `{role, jwt}` login.

use std::process::{Command, Output};

use testsupport::OpenBao;

/// A P-256 key for ES256 JWTs: (signing key, SPKI public key PEM).
fn jwt_key() -> (aws_lc_rs::signature::EcdsaKeyPair, String) {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    // SubjectPublicKeyInfo: id-ecPublicKey + prime256v1, then the point.
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(key.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        lines.join("\n")
    );
    (key, pem)
}

/// A Kubernetes-style service-account token for `sub`, signed ES256.
fn service_account_jwt(key: &aws_lc_rs::signature::EcdsaKeyPair, sub: &str) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
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
    let sig = key.sign(&rng, signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", b64(sig.as_ref()))
}

fn doctor(home: &std::path::Path, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tg"));
    cmd.arg("doctor").current_dir(home).env("HOME", home);
    for k in [
        "VAULT_ADDR",
        "VAULT_TOKEN",
        "VAULT_K8S_ROLE",
        "VAULT_K8S_JWT_PATH",
        "VAULT_K8S_MOUNT",
        "PG_CONN_STR",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The vault check, with the continuation lines of a multi-line error.
    let start = text
        .find(" vault: ")
        .and_then(|i| text[..i].rfind('\n').map(|n| n + 1).or(Some(0)))
        .unwrap_or_else(|| panic!("no vault line:\n{text}"));
    let rest = &text[start..];
    let end = rest
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .find(|&i| {
            ["PASS ", "FAIL ", "SKIP "]
                .iter()
                .any(|p| rest[i..].starts_with(p))
        })
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn explicit_credentials_win_over_the_ambient_vault_token() {
    let bao = OpenBao::start();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    // CI's role: the service account's token logs in as `ci`.
    let (key, pem) = jwt_key();
    std::fs::write(dir.join("sa.pub.pem"), &pem).unwrap();
    bao.bao(&["auth", "enable", "-path=kubernetes", "jwt"]);
    bao.bao(&[
        "write",
        "auth/kubernetes/config",
        &format!(
            "jwt_validation_pubkeys=@{}",
            dir.join("sa.pub.pem").display()
        ),
    ]);
    bao.bao(&[
        "write",
        "auth/kubernetes/role/ci",
        "role_type=jwt",
        "user_claim=sub",
        "bound_audiences=vault",
        "bound_subject=system:serviceaccount:woodpecker:ci",
        "token_policies=default",
    ]);
    let jwt = dir.join("sa-token");
    std::fs::write(
        &jwt,
        service_account_jwt(&key, "system:serviceaccount:woodpecker:ci"),
    )
    .unwrap();
    let jwt = jwt.display().to_string();
    let addr = bao.addr();
    // A stale ambient token, as `vault login` leaves it.
    std::fs::write(dir.join(".vault-token"), "s.stale-ambient-token\n").unwrap();

    // 1. An explicit VAULT_TOKEN is used, not the file.
    let line = doctor(dir, &[("VAULT_ADDR", &addr), ("VAULT_TOKEN", bao.token())]);
    assert!(
        line.starts_with("PASS")
            && line.contains("token from VAULT_TOKEN (explicit: ~/.vault-token present, not used)"),
        "{line}"
    );

    // 2. VAULT_K8S_ROLE: the Kubernetes login is used, not the file.
    let k8s = [
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_K8S_ROLE", "ci"),
        ("VAULT_K8S_JWT_PATH", jwt.as_str()),
    ];
    let line = doctor(dir, &k8s);
    assert!(
        line.starts_with("PASS")
            && line.contains("token from Kubernetes login (VAULT_K8S_ROLE=ci) (explicit: ~/.vault-token present, not used)"),
        "{line}"
    );

    // 3. Only the file: it is used, and its refusal is shown as such.
    let line = doctor(dir, &[("VAULT_ADDR", &addr)]);
    assert!(
        line.starts_with("FAIL")
            && line.contains("token from ~/.vault-token")
            && line.contains("Code: 403"),
        "{line}"
    );

    // 4. A failing explicit login never falls back to the file, even a
    //    valid one: the login's own error is shown.
    std::fs::write(dir.join(".vault-token"), bao.token()).unwrap();
    std::fs::write(
        dir.join("sa-token"),
        service_account_jwt(&key, "system:serviceaccount:default:intruder"),
    )
    .unwrap();
    let line = doctor(dir, &k8s);
    assert!(
        line.starts_with("FAIL")
            && line.contains("Vault kubernetes login (auth/kubernetes/login role=ci)")
            && line.contains("invalid subject (sub) claim"),
        "{line}"
    );
}
