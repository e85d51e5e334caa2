//! A Tier-0 `tg apply` SIGKILLed between re-encrypting the state and
//! committing it (found by `reliability/run.sh`'s kill campaign). Before:
//! killed before the rename, the new-state file it had written in the state
//! folder (`.terraform.tfstate.tg-new-<pid>`) made every later run refuse
//! the checkout as dirty; killed after the rename, the newer state (holding
//! what the engine changed) was an uncommitted change that stopped every
//! later run the same way. Now the next run commits tg's own leftover
//! state (byte for byte what the killed run wrote) and goes on, and still
//! refuses a state file someone else changed.
//!
//! Real OpenBao for the lock, a bare git repo as the forge, a stub engine
//! that appends its `TAG` to the state (as in `tier0_hosts.rs`), and the
//! step markers of `tg-wrapper/src/phase.rs` to kill at an exact step.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use testsupport::{
    OpenBao, age_keygen, git, require_bin, run_ok,
    tg::{TIER0_STUB_ENGINE, sops_config},
    write_executable,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");
const STATE: &str = "state/stacks/infra/terraform.tfstate";

struct Repo {
    dir: tempfile::TempDir,
    bao: OpenBao,
    key: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        require_bin("python3");
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("age.txt");
        let recipient = age_keygen(&key);
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(seed.join("stacks/infra")).unwrap();
        for (name, text) in [
            (
                "terragrunt.hcl",
                "locals {\n  tier0_stacks = [\"infra\"]\n}\n".to_string(),
            ),
            ("stacks/infra/terragrunt.hcl", "# stack\n".to_string()),
            (".sops.yaml", sops_config(&recipient)),
        ] {
            std::fs::write(seed.join(name), text).unwrap();
        }
        let stub = dir.path().join("stub-engine");
        write_executable(&stub, TIER0_STUB_ENGINE);
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["add", "-A"]);
        git(
            &seed,
            &[
                "-c",
                "user.email=s@x",
                "-c",
                "user.name=s",
                "commit",
                "-qm",
                "infra",
            ],
        );
        let forge = dir.path().join("forge.git");
        let (seed_s, forge_s) = (seed.to_str().unwrap(), forge.to_str().unwrap());
        git(dir.path(), &["clone", "-q", "--bare", seed_s, forge_s]);
        git(dir.path(), &["clone", "-q", forge_s, "clone"]);
        let clone = dir.path().join("clone");
        git(&clone, &["config", "user.email", "c@x"]);
        git(&clone, &["config", "user.name", "c"]);
        std::fs::create_dir_all(dir.path().join("plain")).unwrap();
        Repo {
            dir,
            bao: OpenBao::start(),
            key,
        }
    }

    fn clone(&self) -> PathBuf {
        self.dir.path().join("clone")
    }

    fn tg(&self, tag: &str, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(TG);
        cmd.args(["apply", "--stack", "infra", "--non-interactive"])
            .current_dir(self.clone())
            .env("TG_ENGINE", self.dir.path().join("stub-engine"))
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .env("TG_TMPDIR", self.dir.path().join("plain"))
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("VAULT_ADDR", self.bao.addr())
            .env("VAULT_TOKEN", self.bao.token())
            .env("HOME", self.dir.path())
            .env("TAG", tag)
            .env("TG_LOCK_LEASE", "1s")
            .env("TG_LOCK_TIMEOUT", "60s")
            .env_remove("TG_LOCK_WAIT")
            .env_remove("CI_COMMIT_BRANCH")
            .env_remove("TG_PHASE_MARKERS")
            .env_remove("TG_PAUSE_AT")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn apply(&self, tag: &str) -> Output {
        self.tg(tag, &[]).output().unwrap()
    }

    /// Runs an apply held at `step` and SIGKILLs tg there.
    fn kill_at(&self, tag: &str, step: &str) {
        let mut child = self
            .tg(tag, &[("TG_PAUSE_AT", step), ("TG_PAUSE_SECS", "60")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let marker = format!("tg-phase: {step}");
        let reached = BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .any(|l| l == marker);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(reached, "the apply never reached step {step}");
    }

    fn applies(&self, blob: &[u8]) -> Vec<String> {
        let keys = sops_rs::KeySources {
            age_identities: sops_rs::keys::parse_identities(
                &std::fs::read_to_string(&self.key).unwrap(),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        let plain = sops_rs::decrypt_binary(blob, &keys)
            .expect("the state decrypts")
            .0;
        let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        json["outputs"]["applies"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    /// The applies in the state on the forge's main branch.
    fn forge_applies(&self) -> Vec<String> {
        let out = run_ok(
            Command::new("git")
                .args(["show", &format!("main:{STATE}")])
                .current_dir(self.dir.path().join("forge.git")),
        );
        self.applies(&out.stdout)
    }

    fn status(&self) -> String {
        git(
            &self.clone(),
            &["status", "--porcelain", "--untracked-files=all"],
        )
    }
}

fn ok(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tg apply failed:\n{err}");
    err
}

#[test]
fn killed_after_the_rename_the_next_run_commits_the_state_it_left() {
    let r = Repo::new();
    ok(&r.apply("one"));
    r.kill_at("two", "renamed");
    // The newer encrypted state is in the working tree, not committed.
    assert_eq!(r.status(), format!("M {STATE}"));
    let err = ok(&r.apply("three"));
    assert!(
        err.contains("a killed tg run had written it but not committed it"),
        "{err}"
    );
    assert_eq!(r.status(), "");
    // Nothing the killed run's engine did is lost, and the forge has it.
    assert_eq!(r.forge_applies(), ["one", "two", "three"]);
    let log = git(&r.clone(), &["log", "--format=%s", "-3"]);
    assert!(
        log.lines()
            .nth(1)
            .is_some_and(|s| s.contains("a killed tg run left uncommitted")),
        "{log}"
    );
}

#[test]
fn killed_before_the_rename_leaves_nothing_git_sees() {
    let r = Repo::new();
    ok(&r.apply("one"));
    r.kill_at("two", "rename");
    assert_eq!(r.status(), "", "a killed run left files git shows");
    ok(&r.apply("three"));
    // The killed run never replaced the state: its apply is not in it.
    assert_eq!(r.forge_applies(), ["one", "three"]);
}

#[test]
fn a_state_file_changed_by_someone_else_is_still_refused() {
    let r = Repo::new();
    ok(&r.apply("one"));
    r.kill_at("two", "renamed");
    // Not what the killed run wrote: a hand edit tg must not commit.
    let path = r.clone().join(STATE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\n");
    std::fs::write(&path, bytes).unwrap();
    let out = r.apply("three");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("uncommitted changes in infra's own files"),
        "{err}"
    );
    assert_eq!(r.forge_applies(), ["one"]);
}

/// A git SIGKILLed while tg committed the state (its pod killed) leaves
/// `.git/index.lock`; before, every later run failed at `git add` with
/// "File exists". No git runs in the clone now: the lock is stale.
#[test]
fn a_git_lock_left_by_a_killed_git_is_removed() {
    let r = Repo::new();
    ok(&r.apply("one"));
    let lock = r.clone().join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let err = ok(&r.apply("two"));
    assert!(err.contains("left by a git that was killed"), "{err}");
    assert!(!lock.exists());
    assert_eq!(r.forge_applies(), ["one", "two"]);
}

/// The same file while a git runs in the clone (a human's `git commit`
/// in an editor, say) is that git's: tg waits for it a while, then stops
/// and leaves it.
#[test]
fn a_git_lock_of_a_running_git_is_left_alone() {
    let r = Repo::new();
    ok(&r.apply("one"));
    let mut running = Command::new("git")
        .args(["cat-file", "--batch"])
        .current_dir(r.clone())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lock = r.clone().join(".git/index.lock");
    std::fs::write(&lock, "").unwrap();
    let out = r.apply("two");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("is running in this clone"), "{err}");
    assert!(lock.exists());
    running.kill().unwrap();
    running.wait().unwrap();
    ok(&r.apply("three"));
    assert_eq!(r.forge_applies(), ["one", "three"]);
}
