//! The break-glass Tier-0 lock (`--local-lock`): one run per stack on THIS
//! host only.
//!
//! An `O_EXCL` lock file `.tg/locks/<stack>.lock` in the repo's
//! self-ignoring `.tg/` folder (never committed), holding who/where/when.
//! A lock whose process is gone on this host is stale and is taken over.
//! It cannot keep another host out, which is why it is used only when a
//! human asks for it while Vault is down ([`super`]).

use std::io::Write;
use std::path::PathBuf;

use crate::error::TgError;
use crate::repo::Repo;

#[derive(Debug)]
pub struct FileLock {
    path: PathBuf,
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown-host".into())
}

fn pid_alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

impl FileLock {
    pub fn acquire(repo: &Repo, stack: &str, verb: &str) -> Result<FileLock, TgError> {
        let path = repo
            .scratch_dir()?
            .join("locks")
            .join(format!("{stack}.lock"));
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("CI_COMMIT_AUTHOR"))
            .unwrap_or_else(|_| "unknown".into());
        let holder = format!(
            "{user}@{} pid {} ({verb}) since {}",
            hostname(),
            std::process::id(),
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        );
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(holder.as_bytes())
                        .map_err(|e| TgError::step("write the Tier-0 lock", e))?;
                    return Ok(FileLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let current = std::fs::read_to_string(&path).unwrap_or_default();
                    if is_stale(&current) {
                        eprintln!(
                            "tg: removing stale Tier-0 lock of a finished process: {current}"
                        );
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    return Err(TgError::Locked {
                        stack: stack.to_string(),
                        holder: current,
                        how: format!(
                            "lock file {}; it is released when that run ends, and removed automatically if its process is gone",
                            path.display()
                        ),
                    });
                }
                Err(e) => return Err(TgError::step("create the Tier-0 lock", e)),
            }
        }
        Err(TgError::step(
            "create the Tier-0 lock",
            "the lock kept reappearing",
        ))
    }
}

/// A lock written on this host by a process that no longer exists.
fn is_stale(holder: &str) -> bool {
    let host = hostname();
    let Some(rest) = holder.split_once('@').map(|(_, r)| r) else {
        return false;
    };
    let mut words = rest.split_whitespace();
    let (Some(h), Some("pid"), Some(pid)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    h == host && pid.parse::<i32>().is_ok_and(|p| !pid_alive(p))
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
