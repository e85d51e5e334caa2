//! tg's handling of SIGINT/SIGTERM/SIGHUP for the whole run, installed
//! before anything is decrypted, so no signal can leave plaintext behind.
//!
//! What a signal does depends on where the run is:
//!
//! - Before the engine starts (Vault login, Tier-0 lock, decrypting the
//!   state, which can wait seconds on Vault): tg removes the folders
//!   registered with [`remove_on_abort`] (the decrypted state) and exits
//!   with 128 + the signal number, like a shell-killed command. Without
//!   this, the default action killed tg and the plaintext stayed in
//!   `/dev/shm` until the next run's sweep.
//! - While the engine runs: a signal another process sent to tg (`kill`, a
//!   CI runner) is forwarded to the engine, and tg keeps running so its
//!   cleanup (re-encrypt, remove plaintext) happens after the engine exits.
//!   Signals the kernel raised — Ctrl-C or a hangup on the terminal — are
//!   not forwarded: the terminal delivers them to the whole foreground
//!   process group, so the engine already has one, and terraform treats a
//!   second interrupt as "exit immediately, data loss may occur" instead of
//!   its graceful shutdown that writes the state.
//! - After the engine exited: ignored, so re-encrypting and committing the
//!   state the engine wrote is never cut short.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::error::TgError;

enum Phase {
    Preparing,
    Engine(nix::unistd::Pid),
    Finishing,
}

struct State {
    phase: Phase,
    remove_on_abort: Vec<PathBuf>,
    /// Run before exiting on a signal before the engine started (the Tier-0
    /// lock's release, so a Ctrl-C does not leave it to its lease).
    abort_hooks: Vec<Box<dyn Fn() + Send>>,
}

/// One lock for the phase and the folders, so the listener never sees an
/// engine that is half started or a folder list that is half written.
static STATE: Mutex<State> = Mutex::new(State {
    phase: Phase::Preparing,
    remove_on_abort: Vec::new(),
    abort_hooks: Vec::new(),
});

fn state() -> MutexGuard<'static, State> {
    // A panic elsewhere must not stop signal handling: the data stays valid.
    STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the listener (once per process; later calls do nothing). Call it
/// before anything that creates plaintext.
pub fn install() -> Result<(), TgError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    listen_once(&INSTALLED, &[SIGINT, SIGTERM, SIGHUP], handle)
}

/// Starts a thread that calls `handle` for every one of `signals` tg
/// receives, with where it came from (a process or the kernel), the first
/// time it is called with `installed`; later calls return the first
/// outcome. Shared by the run's handler here and `tg ci`'s
/// ([`crate::ci::interrupt`]), which decide differently what a signal
/// does but must both tell a `kill` from a terminal's Ctrl-C.
pub(crate) fn listen_once(
    installed: &'static OnceLock<Result<(), String>>,
    signals: &[std::ffi::c_int],
    handle: fn(signal_hook::low_level::siginfo::Origin),
) -> Result<(), TgError> {
    installed
        .get_or_init(|| {
            use signal_hook::iterator::SignalsInfo;
            use signal_hook::iterator::exfiltrator::WithOrigin;
            let mut signals = SignalsInfo::<WithOrigin>::new(signals).map_err(|e| e.to_string())?;
            std::thread::spawn(move || {
                for origin in signals.forever() {
                    handle(origin);
                }
            });
            Ok(())
        })
        .clone()
        .map_err(|e| TgError::step("install the signal handlers", e))
}

/// The signal's name for a message (`SIGINT`), or "a signal" for a number
/// nix does not know.
pub(crate) fn name(signo: std::ffi::c_int) -> &'static str {
    nix::sys::signal::Signal::try_from(signo)
        .map(|s| s.as_str())
        .unwrap_or("a signal")
}

fn handle(origin: signal_hook::low_level::siginfo::Origin) {
    use signal_hook::low_level::siginfo::Cause;
    let state = state();
    match state.phase {
        Phase::Preparing => {
            for dir in &state.remove_on_abort {
                let _ = std::fs::remove_dir_all(dir);
            }
            for hook in &state.abort_hooks {
                hook();
            }
            let name = name(origin.signal);
            let removed = if state.remove_on_abort.is_empty() {
                ""
            } else {
                "; the decrypted state was removed"
            };
            eprintln!("tg: interrupted by {name} before the engine started{removed}");
            // Exits still holding STATE, so the main thread cannot start
            // the engine on the removed state meanwhile. The Vault lock was
            // released by its hook; a break-glass lock file stays behind,
            // and as its process is gone the next run takes it over.
            std::process::exit(128 + origin.signal);
        }
        Phase::Engine(pid) => {
            if origin.cause != Cause::Kernel
                && let Ok(s) = nix::sys::signal::Signal::try_from(origin.signal)
            {
                let _ = nix::sys::signal::kill(pid, s);
            }
        }
        Phase::Finishing => {}
    }
}

/// Registers a folder of plaintext to remove when a signal ends tg before
/// the engine starts.
pub fn remove_on_abort(dir: PathBuf) {
    state().remove_on_abort.push(dir);
}

/// Registers work to do when a signal ends tg before the engine starts.
pub fn on_abort(hook: Box<dyn Fn() + Send>) {
    state().abort_hooks.push(hook);
}

/// Spawns the engine and switches signals to forwarding, atomically: a
/// signal arriving meanwhile waits for the pid instead of being lost.
pub fn spawn_engine(cmd: &mut Command) -> std::io::Result<Child> {
    let mut state = state();
    let child = cmd.spawn()?;
    state.phase = Phase::Engine(nix::unistd::Pid::from_raw(child.id() as i32));
    Ok(child)
}

/// The engine exited: from now on signals are ignored so the cleanup runs.
pub fn engine_exited() {
    state().phase = Phase::Finishing;
}

/// The engine exited and left nothing to finish (a plan writes no state):
/// until the next engine run a signal aborts as before the engine started
/// (cleanup, exit 128 + signo), so an interrupt while the destroy brake
/// reads the plan or waits for a confirmation never goes on to apply.
pub fn engine_paused() {
    state().phase = Phase::Preparing;
}
