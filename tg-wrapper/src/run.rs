//! `tg <verb> [args]`: one engine run for one stack, with the tier's state
//! handling around it.

use std::path::Path;

use crate::args::{Invocation, engine_args};
use crate::engine::Engine;
use crate::error::TgError;
use crate::lock::Tier0Lock;
use crate::repo::{Repo, Stack, main_checkout_status};
use crate::tier0::Tier0State;
use crate::tier1;

/// Verbs that never touch a backend (no credentials needed).
const NO_BACKEND_VERBS: [&str; 3] = ["fmt", "validate", "version"];
/// Tier-0 verbs that read or write state.
const TIER0_STATE_VERBS: [&str; 10] = [
    "plan", "apply", "destroy", "refresh", "import", "output", "console", "taint", "untaint",
    "state",
];

/// Runs the wrapper and returns the process exit status.
pub fn run(raw: &[String], cwd: &Path) -> i32 {
    match run_inner(raw, cwd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tg: error: {e}");
            1
        }
    }
}

fn resolve(inv: &Invocation, cwd: &Path) -> Result<(Option<Repo>, Option<Stack>), TgError> {
    match &inv.stack {
        Some(name) => {
            let repo = Repo::find(cwd)?;
            let stack = repo.stack(name)?;
            Ok((Some(repo), Some(stack)))
        }
        None => match Repo::find(cwd) {
            Ok(repo) => {
                let stack = repo.stack_containing(cwd);
                Ok((Some(repo), stack))
            }
            Err(_) => Ok((None, None)),
        },
    }
}

fn run_inner(raw: &[String], cwd: &Path) -> Result<i32, TgError> {
    let inv = Invocation::parse(raw);
    if inv.verb().is_empty() {
        return Err(TgError::Usage(
            "usage: tg [--stack NAME] <verb> [args...]   (see docs/tg.md)".into(),
        ));
    }
    // Before any Vault call or decryption: a signal from here on removes
    // the plaintext it finds (Tier-0 state) instead of leaving it behind.
    crate::signals::install()?;
    let (repo, stack) = resolve(&inv, cwd)?;
    let dir = stack
        .as_ref()
        .map(|s| s.dir.clone())
        .unwrap_or_else(|| cwd.to_path_buf());
    if inv.is_mutating()
        && let Some(main) = main_checkout_status(&dir)?
    {
        return Err(TgError::Usage(format!(
            "refusing to run `{}` from a git worktree: git-crypt'd files read as ciphertext there and Tier-0 state commits belong on the main checkout. Run it from {}",
            inv.verb(),
            main.display()
        )));
    }
    let engine = Engine::choose()?;
    let lock_timeout = std::env::var("TG_LOCK_TIMEOUT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "5m".into());
    let (Some(repo), Some(stack)) = (repo, stack) else {
        let status = engine.run(
            &dir,
            &engine_args(&inv, engine.kind, &lock_timeout, None),
            &[],
        )?;
        return Ok(status.code().unwrap_or(1));
    };
    if stack.tier0 {
        return run_tier0(&repo, &stack, &inv, &engine, &lock_timeout);
    }
    let mut env = Vec::new();
    if !NO_BACKEND_VERBS.contains(&inv.verb()) {
        env.push(("PG_CONN_STR".to_string(), tier1::conn_str()?));
    }
    let status = engine.run(
        &stack.dir,
        &engine_args(&inv, engine.kind, &lock_timeout, None),
        &env,
    )?;
    Ok(status.code().unwrap_or(1))
}

fn run_tier0(
    repo: &Repo,
    stack: &Stack,
    inv: &Invocation,
    engine: &Engine,
    lock_timeout: &str,
) -> Result<i32, TgError> {
    if !TIER0_STATE_VERBS.contains(&inv.verb()) {
        let status = engine.run(
            &stack.dir,
            &engine_args(inv, engine.kind, lock_timeout, None),
            &[],
        )?;
        return Ok(status.code().unwrap_or(1));
    }
    let _lock = if inv.is_mutating() {
        Some(Tier0Lock::acquire(repo, &stack.name, inv.verb())?)
    } else {
        None
    };
    let keys = sops_rs::KeySources::from_env().map_err(|e| TgError::step("load SOPS keys", e))?;
    let state = Tier0State::open(repo, &stack.name, &keys)?;
    let args = engine_args(inv, engine.kind, lock_timeout, Some(state.plain_path()));
    let status = engine.run(&stack.dir, &args, &[]);
    // Whatever the engine did (even a failed apply writes partial state),
    // a mutating run's state is re-encrypted and committed.
    if inv.is_mutating() {
        state.close(repo, &stack.name, &keys)?;
    }
    Ok(status?.code().unwrap_or(1))
}
