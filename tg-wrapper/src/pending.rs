//! A Tier-0 state written but not yet committed.
//!
//! Re-encrypting the state ends with a rename into the working tree; the
//! commit comes after. A tg killed between the two (SIGKILL, an evicted
//! pod) leaves the newer encrypted state — holding what the engine changed
//! — as an uncommitted change, and every later run would refuse the dirty
//! checkout. So before the rename, tg keeps a copy of the new file at
//! `.tg/pending/<stack>.tfstate` (git-ignored), and removes it once the
//! commit is made. The next mutating run, holding the lock, commits a dirty
//! state file that is byte for byte that file (tg's own output, not a
//! human's edit), then syncs with the forge as usual: if the forge changed
//! the same state meanwhile the sync refuses, as for any unmergeable state.

use std::path::{Path, PathBuf};

use crate::error::TgError;
use crate::git::Git;
use crate::repo::Repo;

/// In the name of the new encrypted state written in `.tg/` before the rename.
pub const TEMP_INFIX: &str = ".tfstate.tg-new-";

/// Where the pending copy of `stack`'s new state is kept.
pub fn path(scratch: &Path, stack: &str) -> PathBuf {
    scratch.join("pending").join(format!("{stack}.tfstate"))
}

/// Keeps a copy of `bytes` (the new encrypted state, not yet renamed into
/// place) as `stack`'s pending state. A copy, not a hard link: an edit in
/// place of the state file must not change what tg recorded.
pub fn record(scratch: &Path, stack: &str, bytes: &[u8]) -> Result<(), TgError> {
    let copy = path(scratch, stack);
    let step = format!("record {} as written, not committed", copy.display());
    if let Some(dir) = copy.parent() {
        std::fs::create_dir_all(dir).map_err(|e| TgError::step(&step, e))?;
    }
    std::fs::write(&copy, bytes).map_err(|e| TgError::step(&step, e))
}

/// The state's commit is made: nothing pending any more.
pub fn clear(repo: &Repo, stack: &str) {
    let _ = std::fs::remove_file(path(&repo.root.join(".tg"), stack));
}

/// Before syncing (lock and git write lock held), what a killed run left:
/// stale git lock files ([`crate::stale_git_locks`]), the state file it
/// renamed but did not commit (committed when it is exactly that run's
/// output), new-state files of runs that are gone.
pub fn recover(repo: &Repo, git: &Git, stack: &str) -> Result<(), TgError> {
    crate::stale_git_locks::clear(&repo.root)?;
    let scratch = repo.root.join(".tg");
    sweep_temp(&scratch);
    let copy = path(&scratch, stack);
    let Ok(pending) = std::fs::read(&copy) else {
        return Ok(());
    };
    let enc = repo.encrypted_state_path(stack);
    let rel = enc
        .strip_prefix(&repo.root)
        .unwrap_or(&enc)
        .to_string_lossy()
        .into_owned();
    let dirty = git.dirty(&[&rel])?;
    let ours = std::fs::read(&enc).is_ok_and(|now| now == pending);
    if !dirty.is_empty() && ours {
        let message = format!(
            "state({stack}): commit the encrypted state a killed tg run left uncommitted\n\nThe run re-encrypted the state the engine wrote and was killed before its commit; this run committed it under the Tier-0 lock.\n[ci skip]\n"
        );
        git.commit_state(&rel, &message)?;
        eprintln!(
            "tg: committed {rel}: a killed tg run had written it but not committed it (the engine's changes are in it)"
        );
    }
    if dirty.is_empty() || ours {
        let _ = std::fs::remove_file(&copy);
    }
    Ok(())
}

/// Removes new-state files (ciphertext) of tg processes that no longer run.
fn sweep_temp(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .split_once(TEMP_INFIX)
            .and_then(|(_, p)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
