//! Step markers of a Tier-0 run, for the reliability campaign that kills
//! `tg` at each step (`reliability/run.sh`): with `TG_PHASE_MARKERS=1`,
//! tg prints `tg-phase: <name>` on stderr as it enters a step; with
//! `TG_PAUSE_AT=<name>` it also sleeps there (`TG_PAUSE_SECS`, default
//! 30) so a signal lands exactly at that step. Both are off unless set: a
//! marker costs one environment lookup. Names, in run order: `locked`,
//! `synced`, `decrypt`, `decrypted`, `engine`, `engine-exited`, `encrypt`,
//! `rename`, `renamed`, `commit`, `committed`, `push`, `pushed`, `unlock`.

use std::time::Duration;

/// Marks entering step `name`.
pub fn mark(name: &str) {
    let pause = std::env::var("TG_PAUSE_AT").is_ok_and(|p| p == name);
    if !pause && std::env::var_os("TG_PHASE_MARKERS").is_none_or(|v| v.is_empty()) {
        return;
    }
    eprintln!("tg-phase: {name}");
    if pause {
        let secs = std::env::var("TG_PAUSE_SECS")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(30);
        std::thread::sleep(Duration::from_secs(secs));
    }
}
