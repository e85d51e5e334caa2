//! `tg doctor`'s pg lock check against a state database that accepts TLS
//! connections only (`ssl = on`, every TCP line of pg_hba.conf `hostssl`),
//! with the credentials from OpenBao's static role as for a Tier-1 run: the
//! probe connects the way `TG_PG_SSLMODE` (and `PGSSLROOTCERT`) say, as
//! Terraform's pg backend does.

use std::path::Path;
use std::process::{Command, Output};

use testsupport::{OpenBao, Postgres};

/// A CA and a server certificate for 127.0.0.1 / localhost signed by it,
/// installed in `pg`'s data directory; TLS turned on and plaintext TCP
/// logins refused. Returns the CA certificate (PEM).
fn tls_only(pg: &Postgres) -> String {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tg doctor test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let dir = pg.socket_dir();
    let crt = dir.join("server.crt");
    let keyfile = dir.join("server.key");
    std::fs::write(&crt, cert.pem()).unwrap();
    std::fs::write(&keyfile, key.serialize_pem()).unwrap();
    // The server may run as another user (root runs it as `postgres`):
    // the key must be that user's and private to it.
    let owner = stat_owner(dir);
    for f in [&crt, &keyfile] {
        testsupport::run_ok(Command::new("chown").arg(&owner).arg(f));
        testsupport::run_ok(Command::new("chmod").arg("600").arg(f));
    }
    let hba = pg.psql("postgres", "SHOW hba_file");
    let hba = Path::new(hba.trim());
    let rules = std::fs::read_to_string(hba).unwrap();
    let rules: String = rules
        .lines()
        .map(|l| match l.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert!(rules.contains("hostssl "), "no TCP rule in {rules}");
    std::fs::write(hba, rules).unwrap();
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}'", crt.display()),
        format!("ALTER SYSTEM SET ssl_key_file = '{}'", keyfile.display()),
        "ALTER SYSTEM SET ssl = on".to_string(),
        "SELECT pg_reload_conf()".to_string(),
    ] {
        pg.psql("postgres", &sql);
    }
    // The reload is asynchronous: wait until the server says TLS is on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while pg.psql("postgres", "SHOW ssl").trim() != "on" {
        assert!(
            std::time::Instant::now() < deadline,
            "PostgreSQL never turned ssl on"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ca.pem()
}

fn stat_owner(p: &Path) -> String {
    let out = testsupport::run_ok(Command::new("stat").args(["-c", "%u:%g"]).arg(p));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `tg doctor` with Vault's credentials and `extra`; the pg lock line.
fn pg_lock_line(pg: &Postgres, bao: &OpenBao, extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    std::fs::write(
        dir.path().join("terragrunt.hcl"),
        "locals { tier0_stacks = [] }\n",
    )
    .unwrap();
    let port = pg.port().to_string();
    let addr = bao.addr();
    let mut env = vec![
        ("TG_ENGINE", "terraform"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", bao.token()),
        ("TG_PG_HOST", "127.0.0.1"),
        ("TG_PG_PORT", port.as_str()),
        ("TG_PG_DATABASE", "terraform_state"),
    ];
    env.extend_from_slice(extra);
    let out: Output = testsupport::tg::doctor(env!("CARGO_BIN_EXE_tg"), dir.path(), &env);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}");
    let password = bao.bao(&[
        "read",
        "-field=password",
        "database/static-creds/pg-terraform-state",
    ]);
    assert!(
        !text.contains(password.trim()),
        "the state password was printed:\n{text}"
    );
    text.lines()
        .find(|l| l.contains(" pg lock: "))
        .unwrap_or_else(|| panic!("no pg lock line:\n{text}"))
        .to_string()
}

#[test]
fn pg_lock_check_connects_over_tls_when_the_state_database_requires_it() {
    let pg = Postgres::start();
    let ca_pem = tls_only(&pg);
    let bao = testsupport::tg::tier1_services(&pg, "require");

    let line = pg_lock_line(&pg, &bao, &[("TG_PG_SSLMODE", "require")]);
    assert!(
        line.contains("PASS pg lock: pg_advisory_lock + unlock round trip"),
        "{line}"
    );

    // Plaintext is refused by the server: proof the pass above was TLS.
    let line = pg_lock_line(&pg, &bao, &[("TG_PG_SSLMODE", "disable")]);
    assert!(line.contains("FAIL pg lock: state database:"), "{line}");
    assert!(line.contains("no pg_hba.conf entry"), "{line}");

    // verify-full checks the chain against PGSSLROOTCERT and the name.
    let certs = tempfile::tempdir().unwrap();
    let ca = certs.path().join("ca.pem");
    std::fs::write(&ca, &ca_pem).unwrap();
    let ca = ca.display().to_string();
    let line = pg_lock_line(
        &pg,
        &bao,
        &[
            ("TG_PG_SSLMODE", "verify-full"),
            ("PGSSLROOTCERT", &ca),
            ("TG_PG_HOST", "localhost"),
        ],
    );
    assert!(line.contains("PASS pg lock:"), "{line}");

    // A CA that did not sign the server certificate: refused, fail closed.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let other = other.self_signed(&other_key).unwrap();
    let other_ca = certs.path().join("other.pem");
    std::fs::write(&other_ca, other.pem()).unwrap();
    let other_ca = other_ca.display().to_string();
    let line = pg_lock_line(
        &pg,
        &bao,
        &[("TG_PG_SSLMODE", "verify-ca"), ("PGSSLROOTCERT", &other_ca)],
    );
    assert!(line.contains("FAIL pg lock: state database:"), "{line}");
    assert!(line.contains("UnknownIssuer"), "{line}");

    // verify-full without any root certificate names what is missing.
    let line = pg_lock_line(&pg, &bao, &[("TG_PG_SSLMODE", "verify-full")]);
    assert!(line.contains("FAIL pg lock:"), "{line}");
    assert!(line.contains("needs sslrootcert"), "{line}");
}
