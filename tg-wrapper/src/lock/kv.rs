//! The Tier-0 lock in Vault: one KV v2 entry per stack, shared by every
//! host (CI pods and laptops alike).
//!
//! Every write is a check-and-set on the entry's version, so two hosts can
//! never both believe they hold it:
//! - take: `cas=0` when the entry has never existed, else `cas=<current>`
//!   when the current version is released or its lease ran out;
//! - renew: `cas=<ours>` every third of the lease, while the run lives;
//! - release: a `released` version written with `cas=<ours>`.
//!
//! A lease is judged on Vault's clock only (the version's `created_time`
//! against the `Date` of the answer), so skewed host clocks do not matter.
//! A holder killed with SIGKILL stops renewing and its lease runs out; a
//! holder that finds its version moved on (a human's `tg force-unlock`, or
//! a lease that ran out while it stalled) stops renewing and says so.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vault::{Vault, VaultError};

/// What a lock entry says about its holder. Read back from Vault, so every
/// field is shown only through [`Holder::describe`], which cleans it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct Holder {
    /// Random per acquisition: tells our own versions from another run's.
    pub id: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub verb: String,
    pub pipeline: String,
    pub started_at: String,
    pub lease_secs: u64,
    pub released: bool,
    pub released_by: String,
}

/// Printable and bounded: the text comes from Vault, written by any host.
fn clean(text: &str) -> String {
    let t: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    if t.is_empty() { "?".into() } else { t }
}

impl Holder {
    /// `who@host pid N (verb) since T[, pipeline URL]`.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{}@{} pid {} ({}) since {}",
            clean(&self.who),
            clean(&self.host),
            self.pid,
            clean(&self.verb),
            clean(&self.started_at)
        );
        if !self.pipeline.is_empty() {
            s.push_str(&format!(", pipeline {}", clean(&self.pipeline)));
        }
        s
    }
}

/// The current entry of a stack's lock.
#[derive(Debug, Clone)]
pub struct Entry {
    pub version: u64,
    pub holder: Holder,
    /// Seconds of lease left on Vault's clock (0 when it ran out).
    pub lease_left: u64,
}

impl Entry {
    pub fn is_free(&self) -> bool {
        self.holder.released || self.lease_left == 0
    }
}

/// Where a stack's lock lives: `<mount>/data/<path>/<stack>`.
#[derive(Debug, Clone)]
pub struct Location {
    pub mount: String,
    pub path: String,
    pub stack: String,
}

impl Location {
    /// The entry's path below the mount.
    fn entry(&self) -> String {
        format!("{}/{}", self.path, self.stack)
    }

    /// As a human types it: `vault kv get -mount=secret tg/locks/infra`.
    pub fn shown(&self) -> String {
        format!("{}/{}/{}", self.mount, self.path, self.stack)
    }
}

/// Mount and path come from `.tg.toml`: plain path segments only.
pub fn check_segment(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} = {value:?} is not a Vault path (letters, digits, -_. and / between segments)"
        ))
    }
}

/// Reads the entry; `None` when the stack was never locked.
pub fn read(vault: &Vault, loc: &Location) -> Result<Option<Entry>, VaultError> {
    let Some(entry) = vault.kv_read(&loc.mount, &loc.entry())? else {
        return Ok(None);
    };
    // An entry another tool wrote in another shape is still a lock: held,
    // by someone we cannot name, until its lease runs out.
    let holder: Holder = serde_json::from_value(entry.data).unwrap_or_default();
    let lease = if holder.lease_secs > 0 {
        holder.lease_secs
    } else {
        120
    };
    // Vault's own clock; this host's only if Vault sent no Date.
    let now = entry
        .server_time
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    let age = (now - entry.created_time).whole_seconds().max(0) as u64;
    Ok(Some(Entry {
        version: entry.version,
        lease_left: lease.saturating_sub(age),
        holder,
    }))
}

/// One check-and-set write; `Ok(None)` when another writer got there first.
fn write(
    vault: &Vault,
    loc: &Location,
    cas: u64,
    holder: &Holder,
) -> Result<Option<u64>, VaultError> {
    let data = serde_json::to_value(holder).map_err(|e| VaultError::Answer(e.to_string()))?;
    vault.kv_write_cas(&loc.mount, &loc.entry(), cas, &data)
}

/// One attempt to take the lock.
pub enum Attempt {
    Taken(KvLock),
    Held(Entry),
}

/// A lock we hold, renewed in the background until [`KvLock::release`]
/// (or drop).
pub struct KvLock {
    shared: Arc<Mutex<Held>>,
    stop: Option<mpsc::Sender<()>>,
    renewer: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for KvLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KvLock({})", self.held().loc.shown())
    }
}

/// The state the renewer and the releaser share.
struct Held {
    vault: Vault,
    loc: Location,
    holder: Holder,
    version: u64,
    /// Set when our version was replaced by someone else's.
    lost: Option<String>,
    released: bool,
}

impl Held {
    /// Writes the released version, once; reports what happened.
    fn release(&mut self) {
        if self.released || self.lost.is_some() {
            return;
        }
        self.released = true;
        let mut done = self.holder.clone();
        done.released = true;
        match write(&self.vault, &self.loc, self.version, &done) {
            Ok(Some(_)) => {}
            Ok(None) => eprintln!(
                "tg: the Tier-0 lock {} was no longer ours when released (broken by someone else meanwhile)",
                self.loc.shown()
            ),
            Err(e) => eprintln!(
                "tg: could not release the Tier-0 lock {} ({e}); it frees itself when its lease of {}s runs out",
                self.loc.shown(),
                self.holder.lease_secs
            ),
        }
    }
}

/// Tries once to take the lock for `me`; retries internally only when
/// another writer raced us between read and write.
pub fn try_take(vault: &Vault, loc: &Location, me: &Holder) -> Result<Attempt, VaultError> {
    let mut tried_new = false;
    loop {
        let cas = match read(vault, loc)? {
            Some(entry) if !entry.is_free() => return Ok(Attempt::Held(entry)),
            Some(entry) => {
                if !entry.holder.released {
                    eprintln!(
                        "tg: the Tier-0 lock {} of {} ran out of lease without being released (that run died?): taking it over",
                        loc.shown(),
                        entry.holder.describe()
                    );
                }
                entry.version
            }
            // Most likely never locked: `cas=0` without asking first; if
            // that loses, the metadata knows the version to write over.
            None if !tried_new => {
                tried_new = true;
                0
            }
            // An entry whose latest version was deleted by hand reads as
            // missing but keeps counting versions.
            None => vault.kv_current_version(&loc.mount, &loc.entry())?,
        };
        if let Some(version) = write(vault, loc, cas, me)? {
            return Ok(Attempt::Taken(KvLock::start(Held {
                vault: vault.clone(),
                loc: loc.clone(),
                holder: me.clone(),
                version,
                lost: None,
                released: false,
            })));
        }
    }
}

/// Writes a released version over whatever holds the lock now.
pub fn break_lock(
    vault: &Vault,
    loc: &Location,
    entry: &Entry,
    by: &str,
) -> Result<bool, VaultError> {
    let mut done = entry.holder.clone();
    done.released = true;
    done.released_by = by.to_string();
    write(vault, loc, entry.version, &done).map(|v| v.is_some())
}

impl KvLock {
    fn start(held: Held) -> KvLock {
        let every = Duration::from_secs(held.holder.lease_secs.max(3)) / 3;
        let shared = Arc::new(Mutex::new(held));
        let (stop, stopped) = mpsc::channel::<()>();
        let worker = Arc::clone(&shared);
        let renewer = std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                let mut h = worker.lock().unwrap_or_else(PoisonError::into_inner);
                if h.released || h.lost.is_some() {
                    return;
                }
                match write(&h.vault, &h.loc, h.version, &h.holder) {
                    Ok(Some(v)) => h.version = v,
                    Ok(None) => {
                        let now = read(&h.vault, &h.loc)
                            .ok()
                            .flatten()
                            .map(|e| {
                                if e.holder.released_by.is_empty() {
                                    e.holder.describe()
                                } else {
                                    format!("force-unlock by {}", clean(&e.holder.released_by))
                                }
                            })
                            .unwrap_or_else(|| "another run".into());
                        eprintln!(
                            "tg: WARNING: the Tier-0 lock {} is no longer ours ({now}); another run may apply this stack now. The state commit will still be made, and its push refuses to overwrite a newer state.",
                            h.loc.shown()
                        );
                        h.lost = Some(now);
                        return;
                    }
                    Err(e) => eprintln!(
                        "tg: could not renew the Tier-0 lock {} ({e}); retrying",
                        h.loc.shown()
                    ),
                }
            }
        });
        KvLock {
            shared,
            stop: Some(stop),
            renewer: Some(renewer),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `secret/tg/locks/<stack> v<N>`, for the state commit's trailer.
    pub fn describe(&self) -> String {
        let h = self.held();
        format!("vault {} v{}", h.loc.shown(), h.version)
    }

    /// A release for the signal handler: callable from its thread while
    /// the main thread is anywhere before the engine starts.
    pub fn release_hook(&self) -> impl Fn() + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move || {
            shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .release()
        }
    }

    pub fn release(mut self) {
        self.stop_renewing();
        self.held().release();
    }

    fn stop_renewing(&mut self) {
        drop(self.stop.take());
        if let Some(r) = self.renewer.take() {
            let _ = r.join();
        }
    }
}

impl Drop for KvLock {
    fn drop(&mut self) {
        self.stop_renewing();
        self.held().release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_text_from_vault_is_cleaned() {
        let h = Holder {
            who: "eve\u{1b}[2J\nroot".into(),
            host: "x".repeat(500),
            ..Default::default()
        };
        let d = h.describe();
        assert!(!d.contains('\u{1b}') && !d.contains('\n'), "{d}");
        assert!(d.len() < 500, "bounded");
    }

    #[test]
    fn config_segments() {
        assert!(check_segment("lock_path", "tg/locks").is_ok());
        for bad in ["", "a//b", "../x", "a/./b", "a b", "a?b"] {
            assert!(check_segment("lock_path", bad).is_err(), "{bad:?}");
        }
    }
}
