//! Explicit Vault credentials win over the ambient `~/.vault-token`: an
//! explicit `VAULT_TOKEN`, then a Kubernetes login with `VAULT_K8S_ROLE`,
//! and only then the file (seeds/001 lines 731-760: a stale read-only
//! `~/.vault-token` shadowed the token meant for the job). `tg doctor`
//! says which source it used. Against a real OpenBao, whose `jwt` auth
//! method mounted as `kubernetes` takes the same `{role, jwt}` login.

use testsupport::{OpenBao, jwt_key, service_account_jwt};

/// `tg doctor`'s vault check (with the continuation lines of a multi-line
/// error), run with HOME `home` and only the credentials in `env`.
fn doctor(home: &std::path::Path, env: &[(&str, &str)]) -> String {
    let out = testsupport::tg::doctor(env!("CARGO_BIN_EXE_tg"), home, env);
    let text = String::from_utf8_lossy(&out.stdout);
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
    bao.enable_kubernetes_jwt_login(&pem, "ci", "system:serviceaccount:woodpecker:ci", "default");
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
