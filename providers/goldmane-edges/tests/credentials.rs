//! Credentials from a real OpenBao database static role, and TLS to a real
//! PostgreSQL started with `ssl = on`.

mod common;

use std::collections::HashMap;

use goldmane_edges::db::Db;
use goldmane_edges::settings::{self, Input, PasswordSource};
use testsupport::OpenBao;

#[test]
fn vault_static_role_supplies_the_password_at_configure_time() {
    let pg = common::seeded();
    common::create_owner_role(&pg);
    let bao = OpenBao::start();
    common::static_role(&bao, &pg);
    let env: HashMap<&str, String> = [
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", bao.token().to_string()),
    ]
    .into();
    let input = Input {
        host: Some("127.0.0.1".into()),
        port: Some(pg.port()),
        sslmode: Some("disable".into()),
        ..Input::default()
    };
    let settings = settings::resolve(&input, &|k| env.get(k).cloned()).unwrap();
    assert_eq!(settings.password_source, PasswordSource::Vault);
    assert!(
        settings
            .target
            .ends_with("/goldmane_edges as goldmane_edges")
    );
    let db = Db::new(settings);
    let allow = db.allowlist("app", "allow", None, &[]).unwrap();
    assert_eq!(allow.len(), 3);

    // After a rotation the next configure reads the new password.
    bao.bao(&["write", "-f", "database/rotate-role/pg-goldmane-edges"]);
    let settings = settings::resolve(&input, &|k| env.get(k).cloned()).unwrap();
    Db::new(settings).status().unwrap();

    // Wrong role: Vault's own error, no token, no body.
    let bad = Input {
        vault_static_role: Some("no-such-role".into()),
        ..input.clone()
    };
    let err = settings::resolve(&bad, &|k| env.get(k).cloned()).unwrap_err();
    assert!(err.contains("database/static-creds/no-such-role"), "{err}");
    assert!(
        err.contains("HTTP 400") || err.contains("HTTP 404"),
        "{err}"
    );
    assert!(!err.contains(bao.token()), "{err}");
    let denied: HashMap<&str, String> = [
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", "not-a-token".to_string()),
    ]
    .into();
    let err = settings::resolve(&input, &|k| denied.get(k).cloned()).unwrap_err();
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(!err.contains("not-a-token"), "{err}");
}

#[test]
fn sslmodes_against_a_tls_postgres() {
    let pg = common::seeded();
    let ca_pem = pg.enable_tls();
    let dir = tempfile_dir();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, &ca_pem).unwrap();
    let used_tls = |db: &Db| -> bool {
        db.read(|tx| {
            tx.query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
        })
        .unwrap()
        .get(0)
    };
    for (mode, host) in [
        ("require", "127.0.0.1"),
        ("prefer", "127.0.0.1"),
        ("verify-ca", "127.0.0.1"),
        ("verify-full", "localhost"),
    ] {
        let input = Input {
            host: Some(host.into()),
            sslmode: Some(mode.into()),
            sslrootcert: Some(ca_path.display().to_string()),
            ..common::input(&pg, common::NARROW_DB)
        };
        let db = Db::new(settings::resolve(&input, &|_| None).unwrap());
        assert!(used_tls(&db), "{mode} did not use TLS");
        assert_eq!(db.allowlist("app", "allow", None, &[]).unwrap().len(), 3);
    }
    // prefer against a server without TLS falls back to plaintext.
    let plain = common::seeded();
    let input = Input {
        sslmode: Some("prefer".into()),
        ..common::input(&plain, common::NARROW_DB)
    };
    let db = Db::new(settings::resolve(&input, &|_| None).unwrap());
    assert!(!used_tls(&db), "prefer without server TLS is plaintext");
    // verify-full checks the name: the certificate does not name 127.0.0.2.
    let input = Input {
        host: Some("127.0.0.2".into()),
        sslmode: Some("verify-full".into()),
        sslrootcert: Some(ca_path.display().to_string()),
        ..common::input(&pg, common::NARROW_DB)
    };
    let err = Db::new(settings::resolve(&input, &|_| None).unwrap())
        .status()
        .unwrap_err();
    assert!(err.0.contains("cannot connect"), "{err}");
    // A CA that did not sign the server certificate is refused.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).unwrap();
    let other_path = dir.join("other.pem");
    std::fs::write(&other_path, other.pem()).unwrap();
    let input = Input {
        sslmode: Some("verify-ca".into()),
        sslrootcert: Some(other_path.display().to_string()),
        ..common::input(&pg, common::NARROW_DB)
    };
    let err = Db::new(settings::resolve(&input, &|_| None).unwrap())
        .status()
        .unwrap_err();
    assert!(err.0.contains("cannot connect"), "{err}");
    std::fs::remove_dir_all(dir).ok();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("goldmane-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
