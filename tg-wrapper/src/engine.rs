//! Choosing and running the engine (terragrunt, terraform or tofu) with
//! output streamed live and signals forwarded ([`crate::signals`]), so an
//! interrupted run still reaches tg's cleanup (re-encrypt Tier-0 state,
//! remove plaintext), and with a provider cache shared by every stack
//! ([`plugin_cache_env`]).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::args::EngineKind;
use crate::error::TgError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    pub program: PathBuf,
    pub kind: EngineKind,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Engine {
    /// `TG_ENGINE` (a name on PATH or a path) wins; else terragrunt when on
    /// PATH, else terraform.
    pub fn choose() -> Result<Engine, TgError> {
        let wanted = std::env::var("TG_ENGINE").ok().filter(|s| !s.is_empty());
        let program = match &wanted {
            Some(w) if w.contains('/') => PathBuf::from(w),
            Some(w) => on_path(w).ok_or_else(|| {
                TgError::step("find the engine", format!("TG_ENGINE={w} is not on PATH"))
            })?,
            None => on_path("terragrunt")
                .or_else(|| on_path("terraform"))
                .ok_or_else(|| {
                    TgError::step(
                        "find the engine",
                        "neither terragrunt nor terraform is on PATH (or set TG_ENGINE)",
                    )
                })?,
        };
        let name = program.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let kind = if name.contains("terragrunt") {
            EngineKind::Terragrunt
        } else if name.contains("tofu") {
            EngineKind::Tofu
        } else {
            EngineKind::Terraform
        };
        Ok(Engine { program, kind })
    }

    /// Runs the engine in `dir` with inherited stdio and waits for it to
    /// finish; while it runs, signals reach it as [`crate::signals`]
    /// describes (installed by the caller before any plaintext exists).
    pub fn run(
        &self,
        dir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<ExitStatus, TgError> {
        self.run_with(dir, args, env, false)
            .map(|(status, _)| status)
    }

    /// [`Engine::run`], with the engine's stderr passed through to ours as
    /// it comes and its last [`ERR_TAIL`] bytes also returned, for a caller
    /// that must tell one failure from another (a stale saved plan).
    pub fn run_keeping_stderr(
        &self,
        dir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<(ExitStatus, String), TgError> {
        self.run_with(dir, args, env, true)
    }

    fn run_with(
        &self,
        dir: &Path,
        args: &[String],
        env: &[(String, String)],
        keep_stderr: bool,
    ) -> Result<(ExitStatus, String), TgError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args).current_dir(dir);
        let cache = plugin_cache_env(dir)?;
        let _installing = install_guard(args, &cache)?;
        for (k, v) in cache {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        if keep_stderr {
            cmd.stderr(std::process::Stdio::piped());
        }
        let mut child = crate::signals::spawn_engine(&mut cmd)
            .map_err(|e| TgError::step(format!("start {}", self.program.display()), e))?;
        let copier = child.stderr.take().map(|from| {
            std::thread::spawn(move || pass_through_keeping_tail(from, std::io::stderr()))
        });
        let status = child
            .wait()
            .map_err(|e| TgError::step("wait for the engine", e));
        crate::signals::engine_exited();
        let tail = copier.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok((status?, tail))
    }
}

/// How much of the engine's stderr [`Engine::run_keeping_stderr`] keeps:
/// terraform prints its error boxes last.
pub const ERR_TAIL: usize = 64 * 1024;

/// Copies `from` to `to` as it comes (a human watches the engine's output)
/// and returns the last [`ERR_TAIL`] bytes, as text.
fn pass_through_keeping_tail(mut from: impl std::io::Read, mut to: impl std::io::Write) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let _ = to.write_all(&buf[..n]);
                let _ = to.flush();
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > 2 * ERR_TAIL {
                    kept.drain(..kept.len() - ERR_TAIL);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if kept.len() > ERR_TAIL {
        kept.drain(..kept.len() - ERR_TAIL);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The shared provider cache: without it every stack's `init` installs
/// every provider again (~100 stacks, each a download or a mirror copy, and
/// each one a chance of "Failed to install provider"). The seeds' wrapper
/// exported the same two variables.
///
/// - `TF_PLUGIN_CACHE_DIR` set by the user: left alone.
/// - else `TG_PLUGIN_CACHE_DIR`: that folder, or no cache when it is `off`.
/// - else `<repo>/.tg/plugin-cache` (git-ignored), outside a repo none.
///
/// With the cache tg also sets `TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE=1`
/// unless the user set it: without it terraform ≥ 1.4 links from the cache
/// only providers the lock file already lists, so a stack without a lock
/// file installs from the origin anyway. The cost, as terraform documents
/// it: a lock entry created from the cache holds only this platform's
/// checksum. Entries already in a lock file are still verified.
pub fn plugin_cache_env(dir: &Path) -> Result<Vec<(String, String)>, TgError> {
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    if set("TF_PLUGIN_CACHE_DIR") {
        return Ok(Vec::new());
    }
    let cache = match std::env::var("TG_PLUGIN_CACHE_DIR")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(v) if v == "off" => return Ok(Vec::new()),
        Some(v) => PathBuf::from(v),
        None => match crate::repo::Repo::find(dir) {
            Ok(repo) => repo.scratch_dir()?.join("plugin-cache"),
            Err(_) => return Ok(Vec::new()),
        },
    };
    std::fs::create_dir_all(&cache)
        .map_err(|e| TgError::step(format!("create the provider cache {}", cache.display()), e))?;
    let mut env = vec![(
        "TF_PLUGIN_CACHE_DIR".to_string(),
        cache.display().to_string(),
    )];
    if std::env::var_os("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE").is_none() {
        env.push((
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE".into(),
            "1".into(),
        ));
    }
    Ok(env)
}

/// Held while a command that installs providers runs against the shared
/// cache. Terraform documents the plugin cache as "not guaranteed to be
/// concurrency safe", and two installs of one provider at once fail here
/// with `mkdir <cache>/<provider>/<version>/<platform>: file exists` (seen
/// with two `providers lock` in parallel). So tg lets one install run at a
/// time per cache: `init` and `providers lock|mirror`; every other verb
/// only reads the cache. Terragrunt's auto-init inside `plan`/`apply` is
/// not seen here: with terragrunt, run `init` first (as `tg ci` does).
pub fn install_guard(
    args: &[String],
    cache_env: &[(String, String)],
) -> Result<Option<nix::fcntl::Flock<std::fs::File>>, TgError> {
    let mut words = args.iter().filter(|a| !a.starts_with('-'));
    let installs = match words.next().map(String::as_str) {
        Some("init") => true,
        Some("providers") => matches!(words.next().map(String::as_str), Some("lock" | "mirror")),
        _ => false,
    };
    let cache = cache_env
        .iter()
        .find(|(k, _)| k == "TF_PLUGIN_CACHE_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .or_else(|| {
            std::env::var_os("TF_PLUGIN_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
    let (true, Some(cache)) = (installs, cache) else {
        return Ok(None);
    };
    let step = format!("lock the provider cache {} for an install", cache.display());
    std::fs::create_dir_all(&cache).map_err(|e| TgError::step(&step, e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(cache.join(".tg-install.lock"))
        .map_err(|e| TgError::step(&step, e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map(Some)
        .map_err(|(_, e)| TgError::step(&step, e))
}
