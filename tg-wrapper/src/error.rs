//! tg's own errors. Every failure names the step that failed and carries
//! that step's real output (the 2026-05-16 post-mortem: a catch-all
//! "Cannot read PG credentials" hid a network fault for weeks).

#[derive(Debug, thiserror::Error)]
pub enum TgError {
    #[error("{0}")]
    Usage(String),
    #[error("step '{step}' failed:\n{output}")]
    Step { step: String, output: String },
    /// Contention: the text keeps `is locked by`, which `tg classify`
    /// (and so `tg ci`) reads as lock contention: SKIPPED, not FAILED.
    #[error("stack {stack} is locked by {holder}\n({how})")]
    Locked {
        stack: String,
        holder: String,
        how: String,
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
