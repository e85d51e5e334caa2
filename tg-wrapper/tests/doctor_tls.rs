//! `tg doctor`'s pg lock check against a state database that accepts TLS
//! connections only (`ssl = on`, every TCP line of pg_hba.conf `hostssl`),
//! with the credentials from OpenBao's static role as for a Tier-1 run: the
//! probe connects the way `TG_PG_SSLMODE` (and `PGSSLROOTCERT`) say, as
//! Terraform's pg backend does.

use std::path::Path;
use std::process::Output;

use testsupport::{OpenBao, Postgres};

/// TLS turned on in `pg` (`Postgres::enable_tls`) with plaintext TCP
/// logins refused: every TCP line of pg_hba.conf becomes `hostssl` before
/// the reload `enable_tls` makes. Returns the CA certificate (PEM).
fn tls_only(pg: &Postgres) -> String {
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
    pg.enable_tls()
}

/// `tg doctor` with Vault's credentials and `extra`; the pg lock line.
fn pg_lock_line(pg: &Postgres, bao: &OpenBao, extra: &[(&str, &str)]) -> String {
    let dir = testsupport::tg::doctor_repo();
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
    testsupport::tg::pg_lock_line(&text)
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
