//! `tg doctor`: one PASS/FAIL/SKIP line per prerequisite, exit 1 on any FAIL.

use std::path::Path;
use std::process::Command;

use crate::config::Settings;
use crate::engine::Engine;
use crate::git::main_checkout_status;
use crate::pooler::{self, Finding};
use crate::repo::Repo;
use crate::tier1;

enum Check {
    Pass(String),
    Fail(String),
    Skip(String),
}

fn line(name: &str, c: &Check) -> bool {
    match c {
        Check::Pass(m) => println!("PASS {name}: {m}"),
        Check::Fail(m) => println!("FAIL {name}: {m}"),
        Check::Skip(m) => println!("SKIP {name}: {m}"),
    }
    !matches!(c, Check::Fail(_))
}

pub fn run(cwd: &Path) -> i32 {
    let mut ok = true;
    ok &= line("engine", &engine());
    let repo = Repo::find(cwd);
    ok &= line(
        "repo",
        &match &repo {
            Ok(r) => match Settings::load(Some(r)) {
                Ok(_) => Check::Pass(format!(
                    "root {} ; tier0_stacks = {:?} ; {} stacks",
                    r.root.display(),
                    r.tier0_stacks,
                    r.stacks().len()
                )),
                Err(e) => Check::Fail(e.to_string()),
            },
            Err(e) => Check::Fail(e.to_string()),
        },
    );
    ok &= line(
        "main checkout",
        &match main_checkout_status(cwd) {
            Ok(None) => Check::Pass("not a linked worktree".into()),
            Ok(Some(main)) => Check::Fail(format!(
                "this is a git worktree; mutating runs must happen in {}",
                main.display()
            )),
            Err(e) => Check::Fail(e.to_string()),
        },
    );
    ok &= line("vault", &vault());
    ok &= line("pg lock", &pg_lock());
    ok &= line("sops keys", &sops_keys(repo.as_ref().ok()));
    ok &= crate::backend::doctor(repo.as_ref().ok());
    if ok { 0 } else { 1 }
}

fn engine() -> Check {
    match Engine::choose() {
        Err(e) => Check::Fail(e.to_string()),
        Ok(e) => match Command::new(&e.program).arg("version").output() {
            Ok(o) if o.status.success() => Check::Pass(format!(
                "{} ({})",
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or(""),
                e.program.display()
            )),
            Ok(o) => Check::Fail(format!(
                "{} version failed: {}",
                e.program.display(),
                String::from_utf8_lossy(&o.stderr)
            )),
            Err(err) => Check::Fail(format!("{}: {err}", e.program.display())),
        },
    }
}

fn vault() -> Check {
    if std::env::var("VAULT_ADDR")
        .map(|a| a.is_empty())
        .unwrap_or(true)
    {
        return Check::Skip("VAULT_ADDR is not set (needed for Tier-1 credentials unless PG_CONN_STR is set, and for Transit)".into());
    }
    let v = match crate::vault::from_env() {
        Ok(v) => v,
        Err(e) => return Check::Fail(e.to_string()),
    };
    let source = format!(
        "token from {}{}",
        v.source,
        if v.shadowed_file() {
            " (explicit: ~/.vault-token present, not used)"
        } else {
            ""
        }
    );
    match v.read("auth/token/lookup-self") {
        Ok(j) => Check::Pass(format!(
            "{} reachable; {source}; token valid (policies {})",
            v.addr, j["data"]["policies"]
        )),
        Err(f) => Check::Fail(format!("{} : {source}: {f}", v.addr)),
    }
}

fn pg_lock() -> Check {
    let conn = match tier1::conn_str() {
        Ok(c) => c,
        Err(e) if std::env::var("VAULT_ADDR").is_err() => {
            return Check::Skip(format!("no PG_CONN_STR and no Vault: {e}"));
        }
        Err(e) => return Check::Fail(e.to_string()),
    };
    // The error texts of the postgres crate never contain the password.
    match pooler::probe(&conn) {
        Ok(Finding::Sessions { a, b, rounds }) => Check::Pass(format!(
            "pg_advisory_lock + unlock round trip on the state database; each connection keeps \
             its own session (backend pids {a} and {b}, unchanged over {rounds} alternating rounds): \
             no sign of a transaction-mode pooler"
        )),
        Ok(Finding::Pooled(seen)) => Check::Fail(format!(
            "the state database connection goes through a pooler in transaction or statement mode \
             (e.g. PgBouncer pool_mode = transaction): {}. Terraform's pg backend locks state with a \
             session advisory lock (pg_advisory_lock), which such a pooler does not keep with the \
             client: concurrent applies would not exclude each other and state updates can be lost. \
             Fix: connect to PostgreSQL directly (TG_PG_HOST/TG_PG_PORT, or PG_CONN_STR), or give the \
             state database a pool in session mode (pool_mode = session).",
            seen.join("; ")
        )),
        Err(e) => Check::Fail(format!(
            "state database: {e} (tg cannot tell whether the connection keeps a session per client, \
             which Terraform's pg backend lock needs)"
        )),
    }
}

fn sops_keys(repo: Option<&Repo>) -> Check {
    let keys = match crate::vault::sops_keys() {
        Ok(k) => k,
        Err(e) => return Check::Fail(e.to_string()),
    };
    let Some(repo) = repo else {
        return Check::Skip("not in a repo".into());
    };
    let Some(stack) = repo
        .tier0_stacks
        .iter()
        .find(|s| repo.encrypted_state_path(s).is_file())
    else {
        return Check::Skip(format!(
            "no Tier-0 encrypted state yet; {} age identities, Vault token: {}",
            keys.age_identities.len(),
            keys.vault_token.is_some()
        ));
    };
    let path = repo.encrypted_state_path(stack);
    match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| sops_rs::decrypt_binary(&b, &keys).map_err(|e| e.to_string()))
    {
        Ok(_) => Check::Pass(format!(
            "decrypted {} with the available keys",
            path.display()
        )),
        Err(e) => Check::Fail(format!("{}: {e}", path.display())),
    }
}
