//! `tg <verb> [args]`: one engine run for one stack, with the tier's state
//! handling around it.

use std::path::Path;

use crate::args::{Invocation, engine_args};
use crate::config::Settings;
use crate::engine::Engine;
use crate::error::TgError;
use crate::git::{self, Git, main_checkout_status};
use crate::repo::{Repo, Stack};
use crate::tier0::Tier0State;
use crate::{lock, plan_check, tier1};

/// Verbs whose plan goes through the destroy brake ([`plan_check`]).
const BRAKED_VERBS: [&str; 2] = ["apply", "destroy"];
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
        // Outside any infra repo tg runs the engine as it is; inside one a
        // root terragrunt.hcl tg cannot read is an error, not "no repo":
        // a Tier-0 stack would otherwise run without its lock.
        None if Repo::root_of(cwd).is_none() => Ok((None, None)),
        None => {
            let repo = Repo::find(cwd)?;
            let stack = force_unlock_target(inv, &repo).or_else(|| repo.stack_containing(cwd));
            Ok((Some(repo), stack))
        }
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
        let settings = Settings::load(Some(&repo))?;
        if inv.verb() == "force-unlock" {
            let force = inv.args.iter().any(|a| a == "-force" || a == "--force");
            return lock::force_unlock(&settings.tier0, &stack.name, force);
        }
        return run_tier0(&repo, &settings, &stack, &inv, &engine, &lock_timeout);
    }
    let settings = Settings::load(Some(&repo))?;
    crate::backend::check_tier1(&repo, &stack, engine.kind, &inv.args)?;
    if inv.writes() {
        let git = Git::new(&repo.root);
        let _writes = git.write_lock()?;
        git::check_forge(&git, &stack.name, inv.from_unpushed)?;
    }
    let mut env = Vec::new();
    if !NO_BACKEND_VERBS.contains(&inv.verb()) {
        env.push(("PG_CONN_STR".to_string(), tier1::conn_str()?));
    }
    if BRAKED_VERBS.contains(&inv.verb()) {
        let message = commit_message(&repo);
        return plan_check::apply(
            &plan_check::Target {
                engine: &engine,
                stack: &stack.name,
                dir: &stack.dir,
                env: &env,
                state_file: None,
                lock_timeout: &lock_timeout,
                destroy: &settings.destroy,
                commit_message: &message,
            },
            &inv,
        );
    }
    let status = engine.run(
        &stack.dir,
        &engine_args(&inv, engine.kind, &lock_timeout, None),
        &env,
    )?;
    Ok(status.code().unwrap_or(1))
}

/// The message that may allow deletions (`Tg-Allow-Destroy:`): in CI the
/// pushed commit's (`CI_COMMIT_SHA`, read from git; HEAD may have moved
/// on by Tier-0 state commits), else HEAD's. Unreadable: none (fail closed).
fn commit_message(repo: &Repo) -> String {
    let git = Git::new(&repo.root);
    let rev = std::env::var("CI_COMMIT_SHA")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "HEAD".into());
    git.commit_message(&rev).unwrap_or_default()
}

/// `tg force-unlock <stack>` names the stack as its argument; that stack
/// (when it is a Tier-0 one) is the one the run is for.
fn force_unlock_target(inv: &Invocation, repo: &Repo) -> Option<Stack> {
    if inv.verb() != "force-unlock" || inv.stack.is_some() {
        return None;
    }
    let name = inv.args.iter().skip(1).find(|a| !a.starts_with('-'))?;
    repo.stack(name).ok().filter(|s| s.tier0)
}

/// A mutating Tier-0 run: lock (every host) → sync with the forge →
/// decrypt → engine → re-encrypt → commit → push → unlock. The lock is
/// held until the push is done, so the next holder starts from the state
/// the forge has.
fn run_tier0(
    repo: &Repo,
    settings: &Settings,
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
    if inv.from_unpushed {
        return Err(TgError::Usage(format!(
            "--from-unpushed is refused for the Tier-0 stack {}: its state commit must continue the forge's history (tg would push the unpushed code with it). Push the code first; nothing was applied.",
            stack.name
        )));
    }
    let git = Git::new(&repo.root);
    let mut held = None;
    if inv.is_mutating() {
        let taken = lock::acquire(
            repo,
            &settings.tier0,
            &stack.name,
            inv.verb(),
            lock_timeout,
            inv.local_lock,
        )?;
        crate::phase::mark("locked");
        let upstream = {
            let _writes = git.write_lock()?;
            crate::pending::recover(repo, &git, &stack.name)?;
            git::sync_before(&git, &stack.name)?
        };
        held = Some((taken, upstream));
        crate::phase::mark("synced");
    }
    let keys = crate::vault::sops_keys()?;
    let state = Tier0State::open(repo, &stack.name, &keys)?;
    crate::phase::mark("engine");
    let status = if BRAKED_VERBS.contains(&inv.verb()) {
        let message = commit_message(repo);
        plan_check::apply(
            &plan_check::Target {
                engine,
                stack: &stack.name,
                dir: &stack.dir,
                env: &[],
                state_file: Some(state.plain_path()),
                lock_timeout,
                destroy: &settings.destroy,
                commit_message: &message,
            },
            inv,
        )
    } else {
        let args = engine_args(inv, engine.kind, lock_timeout, Some(state.plain_path()));
        engine
            .run(&stack.dir, &args, &[])
            .map(|s| s.code().unwrap_or(1))
    };
    crate::phase::mark("engine-exited");
    // Whatever the engine did (even a failed apply writes partial state),
    // a mutating run's state is re-encrypted, committed and pushed.
    let changed = state.close(&stack.name, &keys)?;
    if let Some((taken, upstream)) = &held {
        let _writes = git.write_lock()?;
        if let Some(enc) = changed {
            let rel = enc
                .strip_prefix(&repo.root)
                .unwrap_or(&enc)
                .to_string_lossy();
            let message = state_commit_message(&stack.name, inv.verb(), taken);
            crate::phase::mark("commit");
            git.commit_state(&rel, &message)?;
            crate::pending::clear(repo, &stack.name);
            crate::phase::mark("committed");
            eprintln!(
                "tg: committed {rel}: {}",
                message.lines().next().unwrap_or("")
            );
        }
        if let Some(up) = upstream
            && git.unpushed(up)? > 0
        {
            crate::phase::mark("push");
            git::push_state(&git, up, settings.tier0.push_attempts)?;
            crate::phase::mark("pushed");
        }
        crate::phase::mark("unlock");
    }
    drop(held);
    status
}

/// Subject as before (`state(<stack>): update encrypted state <UTC>`), and
/// in the body who applied under which lock. `[ci skip]`: a state commit
/// changes no code, so the forge's pipeline has nothing to apply for it.
fn state_commit_message(stack: &str, verb: &str, lock: &lock::Tier0Lock) -> String {
    let ts = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap_or_default();
    let who = lock::me(verb, std::time::Duration::ZERO).describe();
    format!(
        "state({stack}): update encrypted state {ts}\n\nApplied-by: {who}\nTier0-Lock: {}\n[ci skip]\n",
        lock.describe()
    )
}
