//! `tg doctor`: one PASS/FAIL/SKIP line per check against real components
//! (terraform, PostgreSQL's advisory lock, OpenBao), exit 1 on any FAIL.

use std::process::Output;

use testsupport::{OpenBao, Postgres, require_bin};

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks/app")).unwrap();
    std::fs::write(
        dir.path().join("terragrunt.hcl"),
        "locals { tier0_stacks = [\"infra\"] }\n",
    )
    .unwrap();
    dir
}

fn doctor(dir: &std::path::Path, env: &[(&str, &str)]) -> Output {
    testsupport::tg::doctor(env!("CARGO_BIN_EXE_tg"), dir, env)
}

#[test]
fn all_checks_pass_against_real_services() {
    require_bin("terraform");
    let pg = Postgres::start();
    let bao = OpenBao::start();
    let dir = repo();
    let url = pg.superuser_url("postgres");
    let out = doctor(
        dir.path(),
        &[
            ("TG_ENGINE", "terraform"),
            ("PG_CONN_STR", &url),
            ("VAULT_ADDR", &bao.addr()),
            ("VAULT_TOKEN", bao.token()),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS engine: Terraform v"), "{text}");
    assert!(
        text.contains("PASS repo:") && text.contains("\"infra\""),
        "{text}"
    );
    assert!(
        text.contains("PASS vault:") && text.contains("token valid"),
        "{text}"
    );
    assert!(
        text.contains("PASS pg lock: pg_advisory_lock + unlock round trip"),
        "{text}"
    );
    assert!(
        !text.contains(testsupport::PG_SUPERUSER_PASSWORD),
        "no secret printed"
    );
}

#[test]
fn each_failure_is_named_and_exits_1() {
    let dir = repo();
    let port = testsupport::free_port();
    let dead_pg = format!("postgres://u:p@127.0.0.1:{port}/x?sslmode=disable");
    let dead_vault = format!("http://127.0.0.1:{}", testsupport::free_port());
    let out = doctor(
        dir.path(),
        &[
            ("TG_ENGINE", "/nonexistent/terraform"),
            ("PG_CONN_STR", &dead_pg),
            ("VAULT_ADDR", &dead_vault),
            ("VAULT_TOKEN", "t"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL engine: ") && text.contains("/nonexistent/terraform"),
        "{text}"
    );
    assert!(text.contains("FAIL vault: "), "{text}");
    assert!(text.contains("FAIL pg lock: "), "{text}");
    let not_repo = tempfile::tempdir().unwrap();
    let out = doctor(not_repo.path(), &[("TG_ENGINE", "terraform")]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL repo: "));
}
