//! tg's own errors. Every failure names the step that failed and carries
//! that step's real output (the 2026-05-16 post-mortem: a catch-all
//! "Cannot read PG credentials" hid a network fault for weeks).

#[derive(Debug, thiserror::Error)]
pub enum TgError {
    #[error("{0}")]
    Usage(String),
    #[error("step '{step}' failed:\n{output}")]
    Step { step: String, output: String },
    #[error(
        "stack {stack} is locked by {holder}\n(lock file {path}; it is released when that run ends, and removed automatically if its process is gone)"
    )]
    Locked {
        stack: String,
        holder: String,
        path: String,
    },
}

impl TgError {
    pub fn step(step: impl Into<String>, output: impl std::fmt::Display) -> TgError {
        TgError::Step {
            step: step.into(),
            output: output.to_string(),
        }
    }
}
