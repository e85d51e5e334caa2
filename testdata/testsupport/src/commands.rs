//! Running commands and reading what they leave, for tests that drive
//! programs (tg, git, stand-in engines) as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::{require_bin, run_ok};

/// Runs `git args` in `dir`, panicking with its output on failure, and
/// returns its stdout trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = run_ok(Command::new("git").args(args).current_dir(dir));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes an age identity at `path` with the real `age-keygen` and returns
/// its recipient (`age1...`).
pub fn age_keygen(path: &Path) -> String {
    let out = run_ok(Command::new(require_bin("age-keygen")).arg("-o").arg(path));
    String::from_utf8_lossy(&out.stderr)
        .trim()
        .trim_start_matches("Public key: ")
        .to_string()
}

/// Commits everything in the work tree at `dir` (an empty commit when
/// nothing changed) and returns the new commit's id.
pub fn commit_all(dir: &Path, msg: &str) -> String {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}

/// Writes `text` at `root/rel`, creating the folders on the way.
pub fn write_file(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// A finished command's stdout followed by its stderr: what a user sees,
/// for `contains` checks and failure messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Panics unless `out` is a success, showing its status and both streams.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until another process has written `path` (a pid file, a signal
/// log) and returns its content trimmed. Only a guard against a hang: it
/// panics, naming the file, after a minute.
pub fn wait_for(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.trim().is_empty()
        {
            return s.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{} never appeared", path.display());
}

/// Writes `text` to `path` as an executable (mode 0755) and returns the path.
pub fn write_executable(path: &Path, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
    path.to_path_buf()
}
