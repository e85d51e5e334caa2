//! SIGINT/SIGTERM to `tg ci`: stop starting stacks, let the running ones
//! finish their state handling, then report.
//!
//! A signal another process sent (`kill`, the CI runner cancelling the
//! pipeline) is forwarded once to every child `tg`, which forwards it to
//! its engine and still re-encrypts and commits Tier-0 state, or lets
//! terraform write Tier-1 state and release the PG lock
//! ([`crate::signals`]). A signal the kernel raised (Ctrl-C, terminal
//! hangup) already reached the children through the process group, and a
//! second interrupt would make terraform quit without writing state, so it
//! is not forwarded. Later signals are not forwarded either, for the same
//! reason; the runner's SIGKILL after its grace period is the hard stop.

use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::error::TgError;

struct State {
    /// The first signal received, if any.
    caught: Option<i32>,
    children: Vec<nix::unistd::Pid>,
}

static STATE: Mutex<State> = Mutex::new(State {
    caught: None,
    children: Vec::new(),
});

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the listener (once per process).
pub fn install() -> Result<(), TgError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    use signal_hook::consts::{SIGINT, SIGTERM};
    crate::signals::listen_once(&INSTALLED, &[SIGINT, SIGTERM], handle)
}

fn handle(origin: signal_hook::low_level::siginfo::Origin) {
    use signal_hook::low_level::siginfo::Cause;
    let mut st = state();
    let name = crate::signals::name(origin.signal);
    if st.caught.is_some() {
        eprintln!("[tg ci] {name} again: still waiting for the running stacks to finish");
        return;
    }
    st.caught = Some(origin.signal);
    let forward = origin.cause != Cause::Kernel;
    eprintln!(
        "[tg ci] {name}: starting no more stacks; {} running stack(s) {}",
        st.children.len(),
        if forward {
            "get the signal and finish their state handling"
        } else {
            "got it from the terminal and finish their state handling"
        }
    );
    if forward && let Ok(sig) = nix::sys::signal::Signal::try_from(origin.signal) {
        for pid in &st.children {
            let _ = nix::sys::signal::kill(*pid, sig);
        }
    }
}

/// The signal that interrupted this run, if one did.
pub fn caught() -> Option<i32> {
    state().caught
}

/// Spawns a child `tg` unless the run was interrupted, registering it
/// atomically so a signal either sees it or prevents it.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let mut st = state();
    if let Some(sig) = st.caught {
        return Err(std::io::Error::other(format!(
            "not started: tg ci was interrupted by signal {sig}"
        )));
    }
    let child = cmd.spawn()?;
    st.children
        .push(nix::unistd::Pid::from_raw(child.id() as i32));
    Ok(child)
}

/// The child exited: no more signals for it (its pid may be reused).
pub fn exited(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    state().children.retain(|p| *p != pid);
}
