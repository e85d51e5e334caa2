//! `tg providers lock`: every stack's `.terraform.lock.hcl` for every
//! platform the team runs on, in one command.
//!
//! A lock file written by `init` on one laptop holds that platform's
//! checksums only, and one that predates a provider added to the shared
//! configuration fails every apply ("Inconsistent dependency lock file":
//! seeds/001 lines 1506-1509, 1760-1764, a provider release that "broke
//! every stack's lockfile"). This runs `<engine> providers lock
//! -platform=...` (the platforms of `.tg.toml` `[providers]`, default
//! `linux_amd64` and `darwin_arm64`) in each stack, `--jobs` at a time,
//! with the provider cache every tg run shares ([`crate::engine::plugin_cache_env`]).
//! A stack calling modules gets `<engine> get` first (terraform reads the
//! modules' required providers from `.terraform/modules`).

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use crate::args::EngineKind;
use crate::config::Settings;
use crate::engine::Engine;
use crate::error::TgError;
use crate::repo::Repo;

/// What `tg providers lock` was asked for.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    /// Only these stacks (default: every stack with Terraform files).
    pub stacks: Vec<String>,
    /// Platforms (default: `.tg.toml` `[providers] platforms`).
    pub platforms: Vec<String>,
    /// `-fs-mirror=DIR` / `-net-mirror=URL`: where packages come from when
    /// not from the origin registries (providers published only there).
    pub fs_mirror: Option<String>,
    pub net_mirror: Option<String>,
    pub jobs: usize,
}

/// A stack tg can lock: its own `*.tf` files (terraform/tofu), or a
/// `terragrunt.hcl` when terragrunt runs it.
fn lockable(dir: &Path, kind: EngineKind) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        n.ends_with(".tf")
            || n.ends_with(".tf.json")
            || (kind == EngineKind::Terragrunt && n == "terragrunt.hcl")
    })
}

/// Whether `get` must run first: terraform has not installed modules here.
fn needs_get(dir: &Path) -> bool {
    // Not whether the stack calls modules (that would mean reading HCL
    // here): `get` in a stack without modules is a no-op.
    !dir.join(".terraform/modules/modules.json").is_file()
}

/// Runs the engine in `dir`, output captured (stacks run in parallel).
fn engine_output(engine: &Engine, dir: &Path, args: &[String]) -> Result<(bool, String), TgError> {
    let mut cmd = Command::new(&engine.program);
    cmd.args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null());
    let cache = crate::engine::plugin_cache_env(dir)?;
    let _installing = crate::engine::install_guard(args, &cache)?;
    for (k, v) in cache {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| TgError::step(format!("run {}", engine.program.display()), e))?;
    Ok((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

/// Locks one stack; `Err` carries the engine's output.
fn lock_stack(engine: &Engine, dir: &Path, lock_args: &[String]) -> Result<(), String> {
    if needs_get(dir) {
        match engine_output(engine, dir, &["get".into(), "-no-color".into()]) {
            Ok((true, _)) => {}
            Ok((false, out)) => return Err(format!("{} get failed:\n{out}", engine_name(engine))),
            Err(e) => return Err(e.to_string()),
        }
    }
    match engine_output(engine, dir, lock_args) {
        Ok((true, _)) => Ok(()),
        Ok((false, out)) => Err(out),
        Err(e) => Err(e.to_string()),
    }
}

fn engine_name(engine: &Engine) -> String {
    engine
        .program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The whole command; returns the exit status (1 when any stack failed).
pub fn run(repo: &Repo, settings: &Settings, opts: &LockOptions) -> Result<i32, TgError> {
    let engine = Engine::choose()?;
    let stacks: Vec<String> = if opts.stacks.is_empty() {
        repo.stacks()
            .into_iter()
            .filter(|s| lockable(&s.dir, engine.kind))
            .map(|s| s.name)
            .collect()
    } else {
        for s in &opts.stacks {
            repo.stack(s)?;
        }
        opts.stacks.clone()
    };
    let platforms = if opts.platforms.is_empty() {
        settings.providers.platforms.clone()
    } else {
        opts.platforms.clone()
    };
    if platforms.is_empty() {
        return Err(TgError::Usage(
            "no platform to lock for: set [providers] platforms in .tg.toml or pass --platform"
                .into(),
        ));
    }
    for p in &platforms {
        let ok = p.split_once('_').is_some_and(|(os, arch)| {
            !os.is_empty()
                && !arch.is_empty()
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !ok {
            return Err(TgError::Usage(format!(
                "{p:?} is not a platform (os_arch, e.g. linux_amd64)"
            )));
        }
    }
    let mut lock_args = vec!["providers".to_string(), "lock".to_string()];
    lock_args.extend(platforms.iter().map(|p| format!("-platform={p}")));
    if let Some(m) = &opts.fs_mirror {
        lock_args.push(format!("-fs-mirror={m}"));
    }
    if let Some(m) = &opts.net_mirror {
        lock_args.push(format!("-net-mirror={m}"));
    }
    // terraform's own flag (1.5+): take this platform's package from the
    // shared cache instead of downloading it once per stack.
    let cache = std::env::var_os("TF_PLUGIN_CACHE_DIR").is_some_and(|v| !v.is_empty())
        || crate::engine::plugin_cache_env(&repo.root)?
            .iter()
            .any(|(k, _)| k == "TF_PLUGIN_CACHE_DIR");
    if engine.kind == EngineKind::Terraform && cache {
        lock_args.push("-enable-plugin-cache".into());
    }
    println!(
        "Locking {} stack(s) for {} ({} at a time)",
        stacks.len(),
        platforms.join(", "),
        opts.jobs.max(1)
    );
    let queue = Mutex::new(stacks.iter().collect::<Vec<_>>());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..opts.jobs.max(1).min(stacks.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let Some(stack) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                        return;
                    };
                    let dir = repo.root.join("stacks").join(stack);
                    match lock_stack(&engine, &dir, &lock_args) {
                        Ok(()) => println!("[{stack}] OK: stacks/{stack}/.terraform.lock.hcl"),
                        Err(out) => {
                            println!("[{stack}] FAILED:\n{}", out.trim_end());
                            if let Ok(mut f) = failed.lock() {
                                f.push(stack.clone());
                            }
                        }
                    }
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap_or_default();
    if failed.is_empty() {
        println!(
            "Locked {} stack(s). Commit the .terraform.lock.hcl files.",
            stacks.len()
        );
        Ok(0)
    } else {
        println!("FAILED: {}", failed.join(", "));
        Ok(1)
    }
}
