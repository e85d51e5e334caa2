//! Choosing and running the engine (terragrunt, terraform or tofu) with
//! output streamed live and signals forwarded ([`crate::signals`]), so an
//! interrupted run still reaches tg's cleanup (re-encrypt Tier-0 state,
//! remove plaintext).

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
        let mut cmd = Command::new(&self.program);
        cmd.args(args).current_dir(dir);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = crate::signals::spawn_engine(&mut cmd)
            .map_err(|e| TgError::step(format!("start {}", self.program.display()), e))?;
        let status = child
            .wait()
            .map_err(|e| TgError::step("wait for the engine", e));
        crate::signals::engine_exited();
        status
    }
}
