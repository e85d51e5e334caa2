//! Each starter brings up its real server and answers a real request.

use testsupport::{OpenBao, Postgres, Registry};

#[test]
fn postgres_answers_over_socket_and_password_tcp() {
    let pg = Postgres::start();
    pg.create_db("probe");
    assert_eq!(pg.psql("probe", "select 40 + 2").trim(), "42");
    assert!(pg.superuser_url("probe").contains(&pg.port().to_string()));
}

#[test]
fn openbao_dev_server_serves_kv() {
    let bao = OpenBao::start();
    bao.bao(&["kv", "put", "secret/probe", "v=1"]);
    let out = bao.bao(&["kv", "get", "-field=v", "secret/probe"]);
    assert_eq!(out.trim(), "1");
}

#[test]
fn registry_answers_v2_ping() {
    let reg = Registry::start();
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/v2/", reg.addr()))
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
}
