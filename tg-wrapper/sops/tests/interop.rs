//! Interop with the real `sops` 3.x and `age` binaries and a real OpenBao
//! (Vault API) Transit engine: files we write decrypt with `sops -d`, files
//! `sops -e` writes decrypt with us, tampering and wrong keys are refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use sops_rs::{EncryptOptions, Format, KeySources, Node, Recipients, SopsError, VaultKey};
use testsupport::{OpenBao, require_bin, run_ok};

struct AgeKey {
    file: PathBuf,
    recipient: String,
}

/// A fresh key from the real `age-keygen`.
fn age_keygen(dir: &Path, name: &str) -> AgeKey {
    let file = dir.join(format!("{name}.txt"));
    let out = run_ok(Command::new(require_bin("age-keygen")).arg("-o").arg(&file));
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let recipient = text
        .trim()
        .strip_prefix("Public key: ")
        .expect("age-keygen prints the public key")
        .to_string();
    AgeKey { file, recipient }
}

fn sops(dir: &Path, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = Command::new(require_bin("sops"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("SOPS_DISABLE_VERSION_CHECK", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sops")
}

fn keys_for(age: &AgeKey) -> KeySources {
    let text = std::fs::read_to_string(&age.file).unwrap();
    KeySources {
        age_identities: sops_rs::keys::parse_identities(&text, "test").unwrap(),
        ..KeySources::default()
    }
}

const STATE: &str = "{\n  \"version\": 4,\n  \"serial\": 12345678901234567890,\n  \"outputs\": {\"db_password\": {\"value\": \"hunter2\", \"sensitive\": true}}\n}\n";

#[test]
fn binary_mode_both_directions_with_age() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_keygen(dir.path(), "k");
    let keys = keys_for(&key);
    let recipients = Recipients {
        age: vec![key.recipient.clone()],
        vault: Vec::new(),
    };

    // ours -> sops -d
    let enc = sops_rs::encrypt_binary(STATE.as_bytes(), &recipients, None, &keys).unwrap();
    std::fs::write(dir.path().join("ours.tfstate"), &enc).unwrap();
    let out = sops(
        dir.path(),
        &["decrypt", "ours.tfstate"],
        &[("SOPS_AGE_KEY_FILE", key.file.display().to_string())],
    );
    assert!(
        out.status.success(),
        "sops -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), STATE, "byte-exact");

    // sops -e -> ours
    std::fs::write(dir.path().join("plain.tfstate"), STATE).unwrap();
    let out = sops(
        dir.path(),
        &["encrypt", "--age", &key.recipient, "plain.tfstate"],
        &[],
    );
    assert!(
        out.status.success(),
        "sops -e failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (plain, _) = sops_rs::decrypt_binary(&out.stdout, &keys).unwrap();
    assert_eq!(plain, STATE.as_bytes());
}

#[test]
fn json_and_yaml_trees_both_directions() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_keygen(dir.path(), "k");
    let keys = keys_for(&key);
    let recipients = Recipients {
        age: vec![key.recipient.clone()],
        vault: Vec::new(),
    };
    let env = [("SOPS_AGE_KEY_FILE", key.file.display().to_string())];
    let doc = serde_json::json!({"zeta": "last-first", "db": {"password": "p4ss", "port": 5432, "ratio": 0.5, "on": true, "host_unencrypted": "db.local"}, "list": ["a", "b"]});
    let tree = Node::from_json(&doc);

    for (name, format) in [("ours.json", Format::Json), ("ours.yaml", Format::Yaml)] {
        let enc = sops_rs::encrypt(
            &tree,
            format,
            &recipients,
            &EncryptOptions::default(),
            None,
            &keys,
        )
        .unwrap();
        std::fs::write(dir.path().join(name), &enc).unwrap();
        let out = sops(
            dir.path(),
            &["decrypt", "--output-type", "json", name],
            &env,
        );
        assert!(
            out.status.success(),
            "sops -d {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let back: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(back, doc, "{name}");
        assert_eq!(
            back.as_object().unwrap().keys().next().unwrap(),
            "zeta",
            "key order kept"
        );
    }

    std::fs::write(
        dir.path().join("plain.yaml"),
        "db:\n  password: p4ss\n  port: 5432\nlist:\n  - a\n",
    )
    .unwrap();
    let out = sops(
        dir.path(),
        &["encrypt", "--age", &key.recipient, "plain.yaml"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = sops_rs::decrypt(&out.stdout, Format::Yaml, &keys).unwrap();
    assert_eq!(
        d.tree.get("db").and_then(|d| d.get("password")),
        Some(&Node::Str("p4ss".into()))
    );
}

fn transit(bao: &OpenBao) -> VaultKey {
    bao.bao(&["secrets", "enable", "transit"]);
    bao.bao(&["write", "-f", "transit/keys/tier0"]);
    VaultKey {
        address: bao.addr(),
        engine_path: "transit".into(),
        key_name: "tier0".into(),
    }
}

#[test]
fn vault_transit_first_age_fallback_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let bao = OpenBao::start();
    let vkey = transit(&bao);
    let key = age_keygen(dir.path(), "breakglass");
    let recipients = Recipients {
        age: vec![key.recipient.clone()],
        vault: vec![vkey.clone()],
    };
    let vault_only = KeySources {
        vault_token: Some(bao.token().into()),
        ..KeySources::default()
    };

    let enc = sops_rs::encrypt_binary(STATE.as_bytes(), &recipients, None, &vault_only).unwrap();
    std::fs::write(dir.path().join("s.tfstate"), &enc).unwrap();
    // The real sops decrypts our file with the Vault token alone.
    let out = sops(
        dir.path(),
        &["decrypt", "s.tfstate"],
        &[("VAULT_TOKEN", bao.token().into())],
    );
    assert!(
        out.status.success(),
        "sops -d via Transit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), STATE);

    // After rotating the Transit key, v1 ciphertexts still decrypt.
    bao.bao(&["write", "-f", "transit/keys/tier0/rotate"]);
    let (plain, _) = sops_rs::decrypt_binary(&enc, &vault_only).unwrap();
    assert_eq!(plain, STATE.as_bytes());

    // sops -e with --hc-vault-transit -> ours, Vault only.
    std::fs::write(dir.path().join("p.tfstate"), STATE).unwrap();
    let uri = format!("{}/v1/transit/keys/tier0", bao.addr());
    let out = sops(
        dir.path(),
        &["encrypt", "--hc-vault-transit", &uri, "p.tfstate"],
        &[("VAULT_TOKEN", bao.token().into())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sops_rs::decrypt_binary(&out.stdout, &vault_only).unwrap().0,
        STATE.as_bytes()
    );

    // Vault gone: the age break-glass key still opens our file.
    drop(bao);
    let mut both = keys_for(&key);
    both.vault_token = Some("root".into());
    let (plain, _) = sops_rs::decrypt_binary(&enc, &both).unwrap();
    assert_eq!(plain, STATE.as_bytes());
    // Neither works: the error lists every key tried, and no secret.
    let err = sops_rs::decrypt_binary(
        &enc,
        &KeySources {
            vault_token: Some("root".into()),
            ..KeySources::default()
        },
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SopsError::NoKey(_)));
    assert!(msg.contains("hc_vault") && msg.contains("age"), "{msg}");
    assert!(!msg.contains("hunter2"));
}

#[test]
fn tampered_files_are_refused_by_us_and_by_sops() {
    let dir = tempfile::tempdir().unwrap();
    let key = age_keygen(dir.path(), "k");
    let keys = keys_for(&key);
    let recipients = Recipients {
        age: vec![key.recipient.clone()],
        vault: Vec::new(),
    };
    let tree = Node::from_json(&serde_json::json!({"a": "one", "b": "two"}));
    let enc = sops_rs::encrypt(
        &tree,
        Format::Json,
        &recipients,
        &EncryptOptions::default(),
        None,
        &keys,
    )
    .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&enc).unwrap();

    // Swapping two encrypted values: AAD (path) mismatch.
    let mut swapped = j.clone();
    swapped["a"] = j["b"].clone();
    assert!(matches!(
        sops_rs::decrypt(swapped.to_string().as_bytes(), Format::Json, &keys),
        Err(SopsError::Tampered(_))
    ));

    // A forged MAC.
    let mut forged = j.clone();
    forged["sops"]["mac"] = serde_json::Value::String(
        sops_rs::cipher::encrypt(&[0u8; 32], b"00", "x", sops_rs::cipher::ValueType::Str).unwrap(),
    );
    std::fs::write(dir.path().join("forged.json"), forged.to_string()).unwrap();
    assert!(sops_rs::decrypt(forged.to_string().as_bytes(), Format::Json, &keys).is_err());
    let out = sops(
        dir.path(),
        &["decrypt", "forged.json"],
        &[("SOPS_AGE_KEY_FILE", key.file.display().to_string())],
    );
    assert!(!out.status.success(), "sops refuses it too");

    // A value removed: MAC mismatch.
    let mut removed = j.clone();
    removed.as_object_mut().unwrap().remove("b");
    assert!(matches!(
        sops_rs::decrypt(removed.to_string().as_bytes(), Format::Json, &keys),
        Err(SopsError::MacMismatch)
    ));
}
