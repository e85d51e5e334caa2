//! What tests of `tg` (tg-wrapper) share: its stand-in engines and the
//! environment a test must not pass on to it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::write_executable;

/// Bash lines of a stand-in engine answering tg's destroy brake with a
/// plan without changes: `plan ... -out=F` creates F and exits 0, `show
/// -json F` prints an empty `resource_changes`. Put them first, before the
/// lines that play the verb under test.
pub const BRAKE_EMPTY_PLAN: &str = r#"case " $* " in *" -out="*) for a in "$@"; do case "$a" in -out=*) : > "${a#-out=}";; esac; done; exit 0;; esac
[ "$1" = show ] && { echo '{"format_version":"1.2","resource_changes":[]}'; exit 0; }
"#;

/// Writes a bash stand-in engine at `path`: [`BRAKE_EMPTY_PLAN`], then
/// `body` for every other call.
pub fn stub_engine(path: &Path, body: &str) -> PathBuf {
    write_executable(
        path,
        &format!("#!/usr/bin/env bash\n{BRAKE_EMPTY_PLAN}{body}"),
    )
}

/// Variables a CI runner or a developer's shell may hold that change what
/// tg does (the forge, the pushed range and message, retries, lock waits,
/// the progress display). A test sets the ones it means; the rest must not
/// leak in from where the tests happen to run.
pub const AMBIENT_ENV: &[&str] = &[
    "CI_REPO_URL",
    "CI_FORGE_URL",
    "CI_COMMIT_MESSAGE",
    "CI_PREV_COMMIT_SHA",
    "CI_COMMIT_SHA",
    "CI_COMMIT_BRANCH",
    "CI_REPO_DEFAULT_BRANCH",
    "TG_CI_ATTEMPTS",
    "TG_LOCK_TIMEOUT",
    "TG_LOCK_WAIT",
    "TG_PROGRESS",
];

/// Removes [`AMBIENT_ENV`] from `cmd`'s environment; call it before
/// setting the test's own values.
pub fn without_ambient_env(cmd: &mut Command) -> &mut Command {
    for k in AMBIENT_ENV {
        cmd.env_remove(k);
    }
    cmd
}
