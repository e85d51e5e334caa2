//! Choosing and running the engine (terragrunt, terraform or tofu) with
//! output streamed live and signals forwarded, so an interrupted run still
//! reaches tg's cleanup (re-encrypt Tier-0 state, remove plaintext).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

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

    /// Runs the engine in `dir` with inherited stdio; SIGINT/SIGTERM that
    /// reach tg are forwarded to it and tg waits for it to finish.
    pub fn run(
        &self,
        dir: &Path,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<ExitStatus, TgError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args).current_dir(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| TgError::step(format!("start {}", self.program.display()), e))?;
        let child_pid = Arc::new(AtomicI32::new(child.id() as i32));
        let forwarder = forward_signals(child_pid.clone());
        let status = child
            .wait()
            .map_err(|e| TgError::step("wait for the engine", e));
        child_pid.store(0, Ordering::SeqCst);
        if let Some(handle) = forwarder {
            handle.close();
        }
        status
    }
}

/// Forwards SIGINT/SIGTERM/SIGHUP sent to tg by another process (`kill`,
/// a CI runner) to the child until closed. tg itself keeps running so its
/// cleanup always happens.
///
/// Signals the kernel raised — Ctrl-C or a hangup on the terminal — are not
/// forwarded: the terminal delivers them to the whole foreground process
/// group, so the engine already has one, and terraform treats a second
/// interrupt as "exit immediately, data loss may occur" instead of its
/// graceful shutdown that writes the state.
fn forward_signals(pid: Arc<AtomicI32>) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::low_level::siginfo::Cause;
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for origin in signals.forever() {
            if origin.cause == Cause::Kernel {
                continue;
            }
            let p = pid.load(Ordering::SeqCst);
            if p > 0
                && let Ok(s) = nix::sys::signal::Signal::try_from(origin.signal)
            {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), s);
            }
        }
    });
    Some(handle)
}
