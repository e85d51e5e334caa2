//! `--since last-success`: the range starts at the last commit whose CI
//! apply left nothing unapplied, so stacks of a cancelled or failed run are
//! taken up by the next one.
//!
//! The fact lives on the forge, as the git ref `refs/tg/last-success`
//! pushed to the CI remote (default `origin`): a new CI pod with a fresh
//! clone fetches it, no other service is involved, and it needs only the
//! push access the Tier-0 state commits already need. It is read with
//! `git fetch <remote> +refs/tg/last-success:refs/tg/last-success` and
//! written with `git push --force-with-lease`, so two runs finishing at once
//! cannot overwrite each other blindly; a run never moves it back to an
//! ancestor of its current value (a slower, older run finishing last).

use std::process::Command;

use crate::error::TgError;
use crate::repo::Repo;

pub const REF: &str = "refs/tg/last-success";

fn git(repo: &Repo, args: &[&str]) -> Result<(bool, String), TgError> {
    let out = Command::new("git")
        .args(args)
        .current_dir(&repo.root)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| TgError::step("run git", e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text.trim().to_string()))
}

fn has_remote(repo: &Repo, remote: &str) -> Result<bool, TgError> {
    Ok(git(repo, &["remote", "get-url", remote])?.0)
}

/// The local value of the ref, if set.
fn local(repo: &Repo) -> Result<Option<String>, TgError> {
    let (ok, text) = git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{REF}^{{commit}}"),
        ],
    )?;
    Ok(ok.then_some(text))
}

/// Fetches the ref from `remote` and returns its commit (`None`: never
/// recorded). A fetch that fails for another reason than a missing ref
/// falls back to the local copy, which can only be older (an older base
/// selects more, never less), and says so.
pub fn read(repo: &Repo, remote: &str) -> Result<Option<String>, TgError> {
    if !has_remote(repo, remote)? {
        println!("[since] no git remote {remote:?}: using the local {REF}");
        return local(repo);
    }
    let (ok, text) = git(
        repo,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            &format!("+{REF}:{REF}"),
        ],
    )?;
    if ok {
        return local(repo);
    }
    if text.contains("couldn't find remote ref") {
        // Never recorded on the forge; a local leftover must not count.
        let _ = git(repo, &["update-ref", "-d", REF]);
        return Ok(None);
    }
    println!("[since] cannot fetch {REF} from {remote} ({text}): using the local copy");
    local(repo)
}

/// Whether `a` is an ancestor of (or equal to) `b`.
fn is_ancestor(repo: &Repo, a: &str, b: &str) -> Result<bool, TgError> {
    Ok(git(repo, &["merge-base", "--is-ancestor", a, b])?.0)
}

/// Records `head` (a full commit id) as the last success, locally and on
/// `remote`. Returns what was done, for the log.
pub fn record(repo: &Repo, remote: &str, head: &str) -> Result<String, TgError> {
    let remote_ok = has_remote(repo, remote)?;
    let current = if remote_ok {
        read(repo, remote)?
    } else {
        local(repo)?
    };
    if let Some(cur) = &current
        && cur != head
        && is_ancestor(repo, head, cur)?
    {
        return Ok(format!(
            "{REF} stays at {cur}: a later commit already succeeded"
        ));
    }
    let (ok, text) = git(repo, &["update-ref", REF, head])?;
    if !ok {
        return Err(TgError::step(format!("git update-ref {REF}"), text));
    }
    if !remote_ok {
        return Ok(format!("{REF} = {head} (local only: no remote {remote:?})"));
    }
    let lease = format!(
        "--force-with-lease={REF}:{}",
        current.as_deref().unwrap_or("")
    );
    let (ok, text) = git(
        repo,
        &["push", "--quiet", &lease, remote, &format!("{head}:{REF}")],
    )?;
    if !ok {
        return Err(TgError::step(
            format!("git push {remote} {head}:{REF}"),
            text,
        ));
    }
    Ok(format!("{REF} = {head} (pushed to {remote})"))
}

/// The full commit id of `rev`.
pub fn resolve(repo: &Repo, rev: &str) -> Result<String, TgError> {
    let (ok, text) = git(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )?;
    if ok {
        Ok(text)
    } else {
        Err(TgError::Usage(format!(
            "{rev:?} is not a commit in this repo"
        )))
    }
}
