//! Tier-0 stacks: state SOPS-encrypted in git, decrypted only for the run.
//!
//! The plaintext lives in a private (0700) temp folder — in RAM under
//! `/dev/shm` when available — and is removed on every exit path: a signal
//! before the engine starts removes it and ends tg, one during the engine
//! run is forwarded so tg still reaches its cleanup ([`crate::signals`]).
//! Folders left by a SIGKILLed tg are swept at the next start. The
//! encrypted file is replaced by write-new-then-rename, so at any instant
//! git's working tree holds either the old or the new encrypted state,
//! never a partial one and never plaintext.

use std::io::Write;
use std::path::{Path, PathBuf};

use sops_rs::{Decrypted, KeySources, Recipients};

use crate::error::TgError;
use crate::repo::Repo;

const TEMP_PREFIX: &str = "tg-tier0-";

pub struct Tier0State {
    enc_path: PathBuf,
    plain: PathBuf,
    original: Option<Vec<u8>>,
    opened: Option<Decrypted>,
    /// The repo's git-ignored `.tg/`: the new encrypted state is written
    /// there, then renamed into place ([`crate::pending`]).
    scratch: PathBuf,
    // Dropped last: removes the plaintext.
    _dir: tempfile::TempDir,
}

/// Where plaintext may live: `TG_TMPDIR`, else `/dev/shm`, else the temp dir.
fn temp_base() -> PathBuf {
    if let Ok(d) = std::env::var("TG_TMPDIR") {
        return PathBuf::from(d);
    }
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && tempfile::tempdir_in(shm).is_ok() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// A private folder for data that must never reach the repo (decrypted
/// state, a plan file holding the prior state's values): under
/// [`temp_base`], named `<prefix><pid>-…` so that folders left by a tg that
/// was SIGKILLed are swept by the next run, and removed if a signal ends tg
/// before the engine starts.
pub fn private_dir(prefix: &str, what: &str) -> Result<tempfile::TempDir, TgError> {
    let base = temp_base();
    sweep_stale(&base, prefix);
    let dir = tempfile::Builder::new()
        .prefix(&format!("{prefix}{}-", std::process::id()))
        .tempdir_in(&base)
        .map_err(|e| TgError::step(format!("create a private folder for {what}"), e))?;
    crate::signals::remove_on_abort(dir.path().to_path_buf());
    Ok(dir)
}

/// Removes `prefix` folders of tg processes that no longer exist.
fn sweep_stale(base: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Tier0State {
    /// Decrypts the stack's state (if any) into a private temp file.
    pub fn open(repo: &Repo, stack: &str, keys: &KeySources) -> Result<Tier0State, TgError> {
        let dir = private_dir(TEMP_PREFIX, "the decrypted state")?;
        let plain = dir.path().join("terraform.tfstate");
        let enc_path = repo.encrypted_state_path(stack);
        let (original, opened) = if enc_path.is_file() {
            let bytes = std::fs::read(&enc_path)
                .map_err(|e| TgError::step(format!("read {}", enc_path.display()), e))?;
            crate::phase::mark("decrypt");
            let (text, opened) = sops_rs::decrypt_binary(&bytes, keys).map_err(|e| {
                TgError::step(
                    format!(
                        "decrypt {} (Vault Transit first, then age)",
                        enc_path.display()
                    ),
                    e,
                )
            })?;
            write_private(&plain, &text)?;
            crate::phase::mark("decrypted");
            (Some(text), Some(opened))
        } else {
            eprintln!(
                "tg: {} does not exist yet: starting with empty state",
                enc_path.display()
            );
            (None, None)
        };
        Ok(Tier0State {
            scratch: repo.scratch_dir()?,
            enc_path,
            plain,
            original,
            opened,
            _dir: dir,
        })
    }

    pub fn plain_path(&self) -> &Path {
        &self.plain
    }

    /// Re-encrypts the state when the run changed it and replaces the
    /// encrypted file atomically. Returns the file when it changed (the
    /// caller commits it); the plaintext is removed either way.
    pub fn close(self, stack: &str, keys: &KeySources) -> Result<Option<PathBuf>, TgError> {
        let Ok(now) = std::fs::read(&self.plain) else {
            return Ok(None);
        };
        if Some(&now) == self.original.as_ref() {
            return Ok(None);
        }
        let recipients = match &self.opened {
            Some(o) => o.recipients(),
            None => recipients_for(&self.enc_path)?,
        };
        crate::phase::mark("encrypt");
        let enc = sops_rs::encrypt_binary(&now, &recipients, self.opened.as_ref(), keys)
            .map_err(|e| TgError::step(format!("encrypt the new state of {stack}"), e))?;
        replace_atomically(&self.enc_path, &enc, &self.scratch, stack)?;
        Ok(Some(self.enc_path.clone()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TgError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| TgError::step("write the decrypted state", e))?;
    f.write_all(bytes)
        .map_err(|e| TgError::step("write the decrypted state", e))
}

/// For a stack's first state: the `.sops.yaml` creation rule.
fn recipients_for(enc_path: &Path) -> Result<Recipients, TgError> {
    let step = format!("find the keys for {} in .sops.yaml", enc_path.display());
    let cfg = sops_rs::find_config(enc_path)
        .ok_or_else(|| TgError::step(&step, "no .sops.yaml above it"))?;
    Ok(sops_rs::creation_rule_for(&cfg, enc_path)
        .map_err(|e| TgError::step(&step, e))?
        .recipients)
}

/// Write-new-then-rename, fsynced. The new file is written in the repo's
/// git-ignored `.tg/` (same filesystem), never in the state folder: a run
/// killed before the rename must not leave a file there that git shows as
/// an uncommitted change, which would stop every later run. It is copied
/// as the pending state first, so a run killed after the rename and before
/// the commit has its state committed by the next run.
fn replace_atomically(
    path: &Path,
    bytes: &[u8],
    scratch: &Path,
    stack: &str,
) -> Result<(), TgError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| TgError::step(format!("create {}", dir.display()), e))?;
    let tmp = scratch.join(format!(
        "{stack}{}{}",
        crate::pending::TEMP_INFIX,
        std::process::id()
    ));
    let step = format!("write {}", path.display());
    let mut f = std::fs::File::create(&tmp).map_err(|e| TgError::step(&step, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| TgError::step(&step, e))?;
    crate::pending::record(scratch, stack, bytes)?;
    crate::phase::mark("rename");
    std::fs::rename(&tmp, path).map_err(|e| TgError::step(&step, e))?;
    crate::phase::mark("renamed");
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
