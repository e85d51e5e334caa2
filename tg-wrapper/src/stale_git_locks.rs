//! Lock files a killed git left in the clone.
//!
//! git takes `.git/index.lock` (and `<ref>.lock` when it moves a ref) with
//! `O_EXCL` and removes it when done; a git SIGKILLed meanwhile — with tg,
//! when its pod is killed while it commits the state — leaves the file,
//! and every later `git add`/`git commit` fails with "Unable to create
//! '.git/index.lock': File exists", so no Tier-0 run could commit again.
//! git never removes such a file itself, because it cannot tell a dead
//! holder from a live one. tg looks: when no git process runs in this clone
//! (none in `/proc` with its working folder inside the repo), the file is
//! stale and tg removes it, saying so. While one runs (an editor's
//! background `git status` takes `index.lock` for a moment) tg waits for
//! the file to go, up to [`WAIT`], then stops naming it. A git running in another PID namespace on a shared checkout is
//! not visible from here; tg runs hold `.tg/git.lock` around their own git
//! writes, so only a human's git could be such a case.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::TgError;

/// How long a lock file held while git runs in the clone is waited for.
const WAIT: Duration = Duration::from_secs(10);

/// Removes stale git lock files of the clone at `root` (call with tg's git
/// write lock held). Errors when one stays while a git runs in the clone.
pub fn clear(root: &Path) -> Result<(), TgError> {
    let git_dir = root.join(".git");
    if !git_dir.is_dir() {
        return Ok(()); // a linked worktree or no git: nothing of ours
    }
    let started = Instant::now();
    let locks = loop {
        let locks = lock_files(&git_dir);
        if locks.is_empty() {
            return Ok(());
        }
        let Some(pid) = git_running_in(root) else {
            break locks;
        };
        if started.elapsed() >= WAIT {
            return Err(TgError::Usage(format!(
                "git lock file(s) {} exist and git (pid {pid}) is running in this clone: wait for it to finish and apply again; nothing was applied.",
                shown(&locks)
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let shown = shown(&locks);
    for lock in &locks {
        std::fs::remove_file(lock)
            .map_err(|e| TgError::step(format!("remove the stale {}", lock.display()), e))?;
    }
    eprintln!("tg: removed {shown}: left by a git that was killed (no git runs in this clone)");
    Ok(())
}

fn shown(locks: &[PathBuf]) -> String {
    locks
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `index.lock`, `HEAD.lock`, `packed-refs.lock` and `*.lock` under `refs/`.
fn lock_files(git_dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = ["index.lock", "HEAD.lock", "packed-refs.lock"]
        .iter()
        .map(|n| git_dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    let mut dirs = vec![git_dir.join("refs")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|x| x == "lock") {
                out.push(path);
            }
        }
    }
    out
}

/// The pid of a git process whose working folder is inside `root`.
fn git_running_in(root: &Path) -> Option<u32> {
    let root = root.canonicalize().ok()?;
    for e in std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()) {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if !comm.trim().starts_with("git") {
            continue;
        }
        if std::fs::read_link(e.path().join("cwd")).is_ok_and(|cwd| cwd.starts_with(&root)) {
            return Some(pid);
        }
    }
    None
}
