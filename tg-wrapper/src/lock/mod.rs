//! The Tier-0 lock: one mutating run per stack at a time, across every host.
//!
//! The lock lives in Vault ([`kv`]), which every host that can decrypt
//! Tier-0 state already reaches. When Vault cannot be reached, tg refuses:
//! a file lock alone would keep out only the runs of this host, and a CI
//! pod and a laptop applying the same bootstrap stack would commit two
//! states git can never merge. `--local-lock` is the explicit break-glass
//! ([`file`]), announced on stderr and recorded in the state commit.
//!
//! Contention: a local run waits up to `TG_LOCK_WAIT` (default: the
//! `TG_LOCK_TIMEOUT` that also bounds Tier-1 lock waits, 5m), saying who
//! holds it; `tg ci` sets `TG_LOCK_WAIT=0`, so a held lock is reported
//! `is locked by` and the stack is SKIPPED.

pub mod file;
pub mod kv;

use std::time::{Duration, Instant};

use crate::config::Tier0Config;
use crate::error::TgError;
use crate::repo::Repo;

/// A held Tier-0 lock; released when dropped.
#[derive(Debug)]
pub enum Tier0Lock {
    Vault(kv::KvLock),
    /// Break-glass: this host only.
    Local(file::FileLock),
}

impl Tier0Lock {
    /// For the state commit: where the lock was held.
    pub fn describe(&self) -> String {
        match self {
            Tier0Lock::Vault(l) => l.describe(),
            Tier0Lock::Local(_) => {
                "local file on this host only (break-glass: --local-lock)".into()
            }
        }
    }
}

/// Who we are, as the lock entry records it.
pub fn me(verb: &str, lease: Duration) -> kv::Holder {
    let who = ["USER", "CI_COMMIT_AUTHOR", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "unknown".into());
    kv::Holder {
        id: random_id(),
        who,
        host: file::hostname(),
        pid: std::process::id(),
        verb: verb.to_string(),
        pipeline: std::env::var("CI_PIPELINE_URL").unwrap_or_default(),
        started_at: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        lease_secs: lease.as_secs().max(1),
        released: false,
        released_by: String::new(),
    }
}

fn random_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A duration from the environment (`TG_LOCK_WAIT=30s`).
fn env_duration(name: &str) -> Result<Option<Duration>, TgError> {
    match std::env::var(name).ok().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => crate::duration::parse(&v)
            .map(Some)
            .map_err(|e| TgError::Usage(format!("{name}: {e}"))),
    }
}

/// Where the stack's lock lives, from `.tg.toml`.
pub fn location(cfg: &Tier0Config, stack: &str) -> Result<kv::Location, TgError> {
    kv::check_segment("[tier0] lock_mount", &cfg.lock_mount).map_err(TgError::Usage)?;
    kv::check_segment("[tier0] lock_path", &cfg.lock_path).map_err(TgError::Usage)?;
    Ok(kv::Location {
        mount: cfg.lock_mount.clone(),
        path: cfg.lock_path.clone(),
        stack: stack.to_string(),
    })
}

/// The lease: `TG_LOCK_LEASE`, else `.tg.toml`'s `lease_secs`.
pub fn lease(cfg: &Tier0Config) -> Result<Duration, TgError> {
    Ok(env_duration("TG_LOCK_LEASE")?
        .unwrap_or(Duration::from_secs(cfg.lease_secs))
        .max(Duration::from_secs(1)))
}

fn refuse_without_vault(loc: &kv::Location, cause: impl std::fmt::Display) -> TgError {
    TgError::step(
        format!("take the Tier-0 lock {} in Vault", loc.shown()),
        format!(
            "{cause}\nThe Tier-0 lock is shared by every host through Vault; without it another host could apply {} at the same time. Nothing was applied. Fix Vault access (VAULT_ADDR and a token), or, as break-glass on one host only: add --local-lock (announced and recorded in the state commit).",
            loc.stack
        ),
    )
}

/// Takes the stack's lock: in Vault, or with `local_lock` the break-glass
/// file lock. Waits up to `TG_LOCK_WAIT` (default `lock_timeout`).
pub fn acquire(
    repo: &Repo,
    cfg: &Tier0Config,
    stack: &str,
    verb: &str,
    lock_timeout: &str,
    local_lock: bool,
) -> Result<Tier0Lock, TgError> {
    if local_lock {
        eprintln!(
            "tg: BREAK-GLASS --local-lock: the Tier-0 lock of {stack} is a file on this host only; runs on other hosts are NOT kept out. Recorded in the state commit."
        );
        return file::FileLock::acquire(repo, stack, verb).map(Tier0Lock::Local);
    }
    let loc = location(cfg, stack)?;
    let wait = match env_duration("TG_LOCK_WAIT")? {
        Some(w) => w,
        None => crate::duration::parse(lock_timeout)
            .map_err(|e| TgError::Usage(format!("TG_LOCK_TIMEOUT: {e}")))?,
    };
    let vault = crate::vault::from_env().map_err(|e| refuse_without_vault(&loc, e))?;
    let me = me(verb, lease(cfg)?);
    let started = Instant::now();
    let mut said = None::<Instant>;
    loop {
        let entry = match kv::try_take(&vault, &loc, &me) {
            Ok(kv::Attempt::Taken(lock)) => {
                crate::signals::on_abort(Box::new(lock.release_hook()));
                return Ok(Tier0Lock::Vault(lock));
            }
            Ok(kv::Attempt::Held(entry)) => entry,
            Err(f) => return Err(refuse_without_vault(&loc, f)),
        };
        let left = wait.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(TgError::Locked {
                stack: stack.to_string(),
                holder: entry.holder.describe(),
                how: format!(
                    "Vault lock {}, version {}; its lease ends {}s after the holder's last renewal. Waited {}s (TG_LOCK_WAIT / TG_LOCK_TIMEOUT). If that run is dead and cannot wait out its lease: tg force-unlock {stack}",
                    loc.shown(),
                    entry.version,
                    entry.lease_left,
                    wait.as_secs()
                ),
            });
        }
        if said.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
            eprintln!(
                "tg: stack {stack} is locked by {}; waiting (up to {}s more)...",
                entry.holder.describe(),
                left.as_secs()
            );
            said = Some(Instant::now());
        }
        std::thread::sleep(left.min(Duration::from_secs(1)));
    }
}

/// `tg force-unlock <stack> [-force]`: breaks a Tier-0 lock in Vault after
/// showing who holds it; asks for the stack name unless `-force`.
pub fn force_unlock(cfg: &Tier0Config, stack: &str, force: bool) -> Result<i32, TgError> {
    let loc = location(cfg, stack)?;
    let vault = crate::vault::from_env().map_err(|e| {
        TgError::step(
            format!("read the Tier-0 lock {}", loc.shown()),
            e.to_string(),
        )
    })?;
    let step = format!("read the Tier-0 lock {}", loc.shown());
    let Some(entry) = kv::read(&vault, &loc).map_err(|f| TgError::step(&step, f))? else {
        println!("{stack} is not locked (no lock entry {}).", loc.shown());
        return Ok(0);
    };
    if entry.holder.released {
        println!("{stack} is not locked ({} is released).", loc.shown());
        return Ok(0);
    }
    println!(
        "{stack} is locked by {} (lease left {}s, version {}).",
        entry.holder.describe(),
        entry.lease_left,
        entry.version
    );
    if !force {
        use std::io::{BufRead, IsTerminal};
        if !std::io::stdin().is_terminal() {
            return Err(TgError::Usage(format!(
                "refusing to break the lock of {stack} without confirmation: run it on a terminal, or add -force"
            )));
        }
        eprint!(
            "Breaking it lets another run apply {stack} while that run may still be applying. Type the stack name to confirm: "
        );
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != stack {
            return Err(TgError::Usage(
                "not confirmed: the lock is unchanged".into(),
            ));
        }
    }
    let by = me("force-unlock", Duration::from_secs(1)).describe();
    let step = format!("break the Tier-0 lock {}", loc.shown());
    let mut current = entry.clone();
    // The holder renews meanwhile (a new version, same holder id): what
    // was confirmed is the holder, so follow its renewals a few times.
    for _ in 0..5 {
        if kv::break_lock(&vault, &loc, &current, &by).map_err(|f| TgError::step(&step, f))? {
            println!(
                "Broke the Tier-0 lock of {stack} (was held by {}).",
                entry.holder.describe()
            );
            return Ok(0);
        }
        match kv::read(&vault, &loc).map_err(|f| TgError::step(&step, f))? {
            Some(next) if next.holder.id == entry.holder.id && !next.holder.released => {
                current = next
            }
            _ => break,
        }
    }
    Err(TgError::Usage(format!(
        "the lock of {stack} changed hands while confirming: nothing broken; run it again to see the new holder"
    )))
}
