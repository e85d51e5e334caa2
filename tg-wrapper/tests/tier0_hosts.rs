//! Tier-0 across hosts: two clones of one forge (a bare git repository)
//! stand in for a laptop and a CI pod, sharing one real OpenBao for the
//! lock. What must hold whatever the timing: one applier per stack at a
//! time, one linear history on the forge, and a state that has every
//! apply (nothing lost, nothing forked).
//!
//! The engine is a stub that does what matters here the way terraform
//! does: it reads the state it is given (`-state=`), takes a while, and
//! writes a new state that adds this run's tag, so an apply that started
//! from a stale state loses the other's tag and the test sees it. One test
//! runs the real terraform across both clones.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use testsupport::{
    OpenBao, age_keygen, assert_ok, free_port, git, require_bin, run_ok,
    tg::{TIER0_STUB_ENGINE, sops_config},
    wait_for, write_executable,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Hosts {
    dir: tempfile::TempDir,
    bao: OpenBao,
    age_key: PathBuf,
    stub: PathBuf,
}

impl Hosts {
    /// A forge with the infra repo (Tier-0 stack `infra`), cloned as hosts
    /// `a` and `b`, and an OpenBao (KV v2 at `secret/`) for the lock.
    fn new() -> Hosts {
        require_bin("python3");
        let dir = tempfile::tempdir().unwrap();
        let bao = OpenBao::start();
        let key = dir.path().join("age.txt");
        let recipient = age_keygen(&key);
        let forge = dir.path().join("forge.git");
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                forge.to_str().unwrap(),
            ],
        );
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(seed.join("stacks/infra")).unwrap();
        std::fs::write(
            seed.join("terragrunt.hcl"),
            "locals {\n  tier0_stacks = [\"infra\"]\n}\n",
        )
        .unwrap();
        std::fs::write(seed.join("stacks/infra/terragrunt.hcl"), "# stack\n").unwrap();
        std::fs::write(seed.join("README.md"), "infra\n").unwrap();
        std::fs::write(seed.join(".gitignore"), ".terraform/\n").unwrap();
        std::fs::write(seed.join(".sops.yaml"), sops_config(&recipient)).unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        Self::identity(&seed, "seed");
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "infra repo"]);
        git(&seed, &["remote", "add", "origin", forge.to_str().unwrap()]);
        git(&seed, &["push", "-q", "-u", "origin", "main"]);
        let stub = dir.path().join("stub-engine");
        write_executable(&stub, TIER0_STUB_ENGINE);
        let hosts = Hosts {
            dir,
            bao,
            age_key: key,
            stub,
        };
        for h in ["a", "b"] {
            hosts.clone_host(h);
        }
        hosts
    }

    fn identity(repo: &Path, name: &str) {
        git(
            repo,
            &["config", "user.email", &format!("{name}@example.invalid")],
        );
        git(repo, &["config", "user.name", name]);
    }

    fn forge(&self) -> PathBuf {
        self.dir.path().join("forge.git")
    }

    fn clone_host(&self, name: &str) -> PathBuf {
        let path = self.host(name);
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                self.forge().to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        Self::identity(&path, name);
        path
    }

    fn host(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn tmp(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(format!("plain-{name}"));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn pidfile(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("engine-{name}.pid"))
    }

    /// `tg` on host `name` with the shared Vault and the stub engine.
    fn tg(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(TG);
        cmd.args(args)
            .current_dir(self.host(name))
            .env("TG_ENGINE", &self.stub)
            .env("SOPS_AGE_KEY_FILE", &self.age_key)
            .env("TG_TMPDIR", self.tmp(name))
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("VAULT_ADDR", self.bao.addr())
            .env("VAULT_TOKEN", self.bao.token())
            .env("HOME", self.dir.path())
            .env("USER", name)
            .env("TAG", name)
            .env("STUB_PIDFILE", self.pidfile(name))
            .env("STUB_SLEEP", "0.2")
            .env_remove("TG_LOCK_WAIT")
            .env_remove("TG_LOCK_LEASE")
            .env_remove("TG_LOCK_TIMEOUT")
            .env_remove("CI_COMMIT_BRANCH")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn apply(&self, name: &str, env: &[(&str, &str)]) -> Output {
        self.tg(
            name,
            &["apply", "--stack", "infra", "--non-interactive"],
            env,
        )
        .output()
        .unwrap()
    }

    fn spawn_apply(&self, name: &str, env: &[(&str, &str)]) -> Child {
        self.tg(
            name,
            &["apply", "--stack", "infra", "--non-interactive"],
            env,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    }

    /// The applies recorded in the state on the forge's main branch.
    fn forge_applies(&self) -> Vec<String> {
        let out = Command::new("git")
            .args([
                "--git-dir",
                self.forge().to_str().unwrap(),
                "show",
                "main:state/stacks/infra/terraform.tfstate",
            ])
            .output()
            .unwrap();
        if !out.status.success() {
            return Vec::new();
        }
        let keys = sops_rs::KeySources {
            age_identities: sops_rs::keys::parse_identities(
                &std::fs::read_to_string(&self.age_key).unwrap(),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        let plain = sops_rs::decrypt_binary(&out.stdout, &keys)
            .expect("the forge's state decrypts")
            .0;
        let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        json["outputs"]["applies"]["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    fn forge_git(&self, args: &[&str]) -> String {
        let forge = self.forge();
        let mut all = vec!["--git-dir", forge.to_str().unwrap()];
        all.extend_from_slice(args);
        git(self.dir.path(), &all)
    }

    /// Neither the repos nor the plaintext folders hold a decrypted state.
    fn assert_no_plaintext(&self) {
        for h in ["a", "b"] {
            let left: Vec<_> = std::fs::read_dir(self.tmp(h))
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty(), "plaintext folders left on {h}: {left:?}");
            let out = Command::new("grep")
                .args(["-rl", "--exclude-dir=.git", "\"applies\""])
                .arg(self.host(h))
                .output()
                .unwrap();
            assert!(
                out.stdout.is_empty(),
                "plaintext state in {h}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }

    /// The lock entry's current version and data, read with the bao CLI.
    fn lock_entry(&self) -> (u64, serde_json::Value) {
        let text = self.bao.bao(&[
            "kv",
            "get",
            "-format=json",
            "-mount=secret",
            "tg/locks/infra",
        ]);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        (
            json["data"]["metadata"]["version"].as_u64().unwrap(),
            json["data"]["data"].clone(),
        )
    }
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_linear(h: &Hosts) {
    assert_eq!(
        h.forge_git(&["rev-list", "--merges", "main"]),
        "",
        "no merge commits: one linear history"
    );
}

/// Two hosts apply the same Tier-0 stack at the same moment, 20 rounds:
/// every apply runs on the state the other left (the lock serialises
/// them; the sync takes the other's state commit), so the forge's final
/// state holds all 40 applies, once each, on a linear history.
#[test]
fn two_hosts_at_once_twenty_rounds_nothing_lost() {
    let h = Hosts::new();
    let mut waited = 0;
    for round in 0..20 {
        let (ta, tb) = (format!("a{round}"), format!("b{round}"));
        let a = h.spawn_apply("a", &[("TAG", &ta)]);
        let b = h.spawn_apply("b", &[("TAG", &tb)]);
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert_ok(&a);
        assert_ok(&b);
        let both = format!("{}{}", text(&a), text(&b));
        if both.contains("is locked by") {
            waited += 1;
        }
    }
    let applies = h.forge_applies();
    let mut expected: Vec<String> = (0..20)
        .flat_map(|r| [format!("a{r}"), format!("b{r}")])
        .collect();
    let mut got = applies.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "every apply is in the forge's state once");
    assert!(
        waited >= 10,
        "the runs overlapped and one waited in most rounds ({waited}/20)"
    );
    assert_linear(&h);
    // Both clones end on the forge's commit.
    let tip = h.forge_git(&["rev-parse", "main"]);
    for host in ["a", "b"] {
        let head = git(&h.host(host), &["rev-parse", "HEAD"]);
        let forge_has = Command::new("git")
            .arg("--git-dir")
            .arg(h.forge())
            .args(["merge-base", "--is-ancestor", &head, &tip])
            .status()
            .unwrap();
        assert!(forge_has.success(), "{host}'s HEAD is on the forge");
    }
    h.assert_no_plaintext();
    // The lock is released, not left to its lease.
    assert_eq!(h.lock_entry().1["released"], true);
}

/// `tg ci apply` on a CI clone (detached HEAD) while a laptop holds the
/// lock: the stack is SKIPPED at once, the laptop's apply is the one on
/// the forge. Then the same in a loop of CI runs on both hosts: each run
/// either applies or is SKIPPED, and the forge has exactly the applies.
#[test]
fn ci_skips_a_stack_another_host_holds() {
    let h = Hosts::new();
    git(&h.host("b"), &["checkout", "-q", "--detach"]);
    let ci = |host: &str, tag: &str| {
        h.tg(
            host,
            &["ci", "apply", "--all"],
            &[("TAG", tag), ("CI_COMMIT_BRANCH", "main")],
        )
        .output()
        .unwrap()
    };
    let laptop = h.spawn_apply("a", &[("TAG", "laptop"), ("STUB_SLEEP", "3")]);
    wait_for(&h.pidfile("a"));
    let run = ci("b", "ci-1");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("[infra] SKIPPED"), "{}", text(&run));
    assert_ok(&laptop.wait_with_output().unwrap());
    assert_eq!(h.forge_applies(), vec!["laptop"]);
    git(&h.host("a"), &["checkout", "-q", "--detach"]);

    let mut applied = vec!["laptop".to_string()];
    for round in 0..8 {
        let (ta, tb) = (format!("ci-a{round}"), format!("ci-b{round}"));
        let (ha, hb) = (&h, &h);
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| ci_run(ha, "a", &ta));
            let b = s.spawn(|| ci_run(hb, "b", &tb));
            (a.join().unwrap(), b.join().unwrap())
        });
        for (out, tag) in [(&a, &ta), (&b, &tb)] {
            assert_eq!(out.status.code(), Some(0), "{}", text(out));
            let stdout = String::from_utf8_lossy(&out.stdout);
            if stdout.contains("[infra] SKIPPED") {
                continue;
            }
            assert!(stdout.contains("[infra] OK"), "{}", text(out));
            applied.push(tag.clone());
        }
    }
    let mut got = h.forge_applies();
    got.sort();
    applied.sort();
    assert_eq!(got, applied, "the forge has exactly the applies that ran");
    assert_linear(&h);
    h.assert_no_plaintext();
}

fn ci_run(h: &Hosts, host: &str, tag: &str) -> Output {
    h.tg(
        host,
        &["ci", "apply", "--all"],
        &[
            ("TAG", tag),
            ("CI_COMMIT_BRANCH", "main"),
            ("STUB_SLEEP", "1"),
        ],
    )
    .output()
    .unwrap()
}

/// A holder renews its lease while it lives; SIGKILLed, it stops, and the
/// next run takes the lock once the lease has run out.
#[test]
fn a_killed_holder_blocks_only_until_its_lease_ends() {
    let h = Hosts::new();
    let lease = [("TG_LOCK_LEASE", "3s")];
    let mut holder = h.spawn_apply("a", &[("TG_LOCK_LEASE", "3s"), ("STUB_SLEEP", "60")]);
    let engine = wait_for(&h.pidfile("a"));
    let (first, data) = h.lock_entry();
    assert_eq!(data["who"], "a");
    assert_eq!(data["lease_secs"], 3);
    std::thread::sleep(Duration::from_millis(4500));
    let (renewed, _) = h.lock_entry();
    assert!(renewed > first, "renewed while alive ({first} → {renewed})");
    let refused = h.apply("b", &[lease[0], ("TG_LOCK_WAIT", "0")]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("is locked by a@") && err.contains("tg force-unlock infra"),
        "{err}"
    );
    holder.kill().unwrap(); // SIGKILL: no release, no renewal
    holder.wait().unwrap();
    run_ok(Command::new("kill").args(["-KILL", &engine]));
    let started = Instant::now();
    let next = h.apply("b", &[lease[0], ("TG_LOCK_WAIT", "30s")]);
    assert_ok(&next);
    let err = String::from_utf8_lossy(&next.stderr);
    assert!(err.contains("ran out of lease"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "taken over after the lease, not after the wait"
    );
    assert_eq!(h.forge_applies(), vec!["b"]);
}

/// Each unsafe checkout is refused before anything is decrypted or run,
/// with a message naming the cause; the lock is released for the next run.
#[test]
fn stale_dirty_and_locked_checkouts_are_refused() {
    let h = Hosts::new();
    let never = |out: &Output, needle: &str| {
        assert!(!out.status.success(), "{}", text(out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "expected {needle:?}: {err}");
        assert!(err.contains("nothing was applied"), "{err}");
        assert!(h.forge_applies().is_empty(), "nothing applied");
    };
    // Behind: the forge has new code.
    let b = h.host("b");
    std::fs::write(b.join("stacks/infra/main.tf"), "# new code\n").unwrap();
    git(&b, &["add", "-A"]);
    git(&b, &["commit", "-q", "-m", "new code"]);
    git(&b, &["push", "-q"]);
    never(&h.apply("a", &[]), "behind origin/main");
    git(&h.host("a"), &["pull", "-q", "--rebase"]);
    // Dirty: the stack's own files.
    std::fs::write(h.host("a").join("stacks/infra/main.tf"), "# edited\n").unwrap();
    never(
        &h.apply("a", &[]),
        "uncommitted changes in infra's own files: stacks/infra/main.tf",
    );
    git(
        &h.host("a"),
        &["checkout", "-q", "--", "stacks/infra/main.tf"],
    );
    // Unpushed code.
    std::fs::write(h.host("a").join("README.md"), "local only\n").unwrap();
    git(&h.host("a"), &["commit", "-q", "-am", "not pushed"]);
    never(&h.apply("a", &[]), "tg applies only what the forge has");
    git(&h.host("a"), &["reset", "-q", "--hard", "origin/main"]);
    // git-crypt-locked: a *.tfvars the filter should decrypt holds its
    // ciphertext header, as in a clone that was never unlocked.
    std::fs::write(
        b.join(".gitattributes"),
        "*.tfvars filter=git-crypt diff=git-crypt\n",
    )
    .unwrap();
    std::fs::write(
        b.join("stacks/infra/secrets.tfvars"),
        b"\0GITCRYPT\0\x8a\x13 not a value",
    )
    .unwrap();
    git(&b, &["add", "-A"]);
    git(&b, &["commit", "-q", "-m", "secrets"]);
    git(&b, &["push", "-q"]);
    git(&h.host("a"), &["pull", "-q", "--rebase"]);
    never(
        &h.apply("a", &[]),
        "git-crypt-locked: stacks/infra/secrets.tfvars",
    );
    // Each refusal released the lock: a run that may not wait gets it.
    std::fs::write(h.host("a").join("stacks/infra/secrets.tfvars"), "x = 1\n").unwrap();
    git(&h.host("a"), &["commit", "-q", "-am", "unlocked by hand"]);
    git(&h.host("a"), &["push", "-q"]);
    assert_ok(&h.apply("a", &[("TG_LOCK_WAIT", "0")]));
    assert_eq!(h.forge_applies(), vec!["a"]);
    h.assert_no_plaintext();
}

/// The forge moves while the engine runs (someone pushes code): the push
/// is rejected, tg rebases its state commit onto the new tip and pushes.
#[test]
fn a_push_race_ends_rebased_and_pushed() {
    let h = Hosts::new();
    let b = h.host("b");
    let hook = format!(
        "cd '{}' && echo race >> README.md && git commit -q -am 'pushed meanwhile' && git push -q",
        b.display()
    );
    let out = h.apply("a", &[("STUB_HOOK", &hook)]);
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("moved during the run: rebasing"), "{err}");
    assert_eq!(h.forge_applies(), vec!["a"]);
    assert_eq!(
        h.forge_git(&["log", "-1", "--format=%s", "main^"]),
        "pushed meanwhile"
    );
    assert_eq!(
        h.forge_git(&["diff", "--name-only", "main^", "main"]),
        "state/stacks/infra/terraform.tfstate",
        "the rebased commit is state only"
    );
    let a = h.host("a");
    assert_eq!(
        git(&a, &["rev-parse", "HEAD"]),
        h.forge_git(&["rev-parse", "main"])
    );
    assert!(
        std::fs::read_to_string(a.join("README.md"))
            .unwrap()
            .contains("race")
    );
    let body = h.forge_git(&["log", "-1", "--format=%B", "main"]);
    assert!(
        body.contains("Tier0-Lock: vault secret/tg/locks/infra") && body.contains("[ci skip]"),
        "{body}"
    );
    assert_linear(&h);
}

/// Vault down: a clear refusal naming the lock and the break-glass, no
/// engine run, no plaintext.
#[test]
fn vault_down_refuses_before_anything_is_decrypted() {
    let h = Hosts::new();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let out = h.apply("a", &[("VAULT_ADDR", &closed)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("take the Tier-0 lock secret/tg/locks/infra in Vault")
            && err.contains("Nothing was applied")
            && err.contains("--local-lock"),
        "{err}"
    );
    assert!(!h.pidfile("a").exists(), "the engine never ran");
    h.assert_no_plaintext();
    // The explicit break-glass works, and says so in the state commit.
    let glass = h
        .tg(
            "a",
            &[
                "apply",
                "--stack",
                "infra",
                "--non-interactive",
                "--local-lock",
            ],
            &[("VAULT_ADDR", &closed)],
        )
        .output()
        .unwrap();
    assert_ok(&glass);
    assert!(String::from_utf8_lossy(&glass.stderr).contains("BREAK-GLASS"));
    assert!(
        h.forge_git(&["log", "-1", "--format=%B", "main"])
            .contains("Tier0-Lock: local file on this host only (break-glass: --local-lock)")
    );
}

/// `tg force-unlock`: refused without confirmation, done with `-force`.
/// The broken holder notices; its state commit, made on a state the
/// forge no longer has, is refused at push instead of forking the forge.
#[test]
fn force_unlock_and_the_broken_holder_cannot_fork_the_state() {
    let h = Hosts::new();
    let holder = h.spawn_apply("a", &[("TG_LOCK_LEASE", "3s"), ("STUB_SLEEP", "5")]);
    wait_for(&h.pidfile("a"));
    let asked = h.tg("b", &["force-unlock", "infra"], &[]).output().unwrap();
    assert!(!asked.status.success());
    assert!(
        String::from_utf8_lossy(&asked.stderr).contains("without confirmation"),
        "{}",
        text(&asked)
    );
    let forced = h
        .tg("b", &["force-unlock", "infra", "-force"], &[])
        .output()
        .unwrap();
    assert_ok(&forced);
    assert!(String::from_utf8_lossy(&forced.stdout).contains("Broke the Tier-0 lock of infra"));
    assert_ok(&h.apply("b", &[("TG_LOCK_WAIT", "0")]));
    let broken = holder.wait_with_output().unwrap();
    assert!(!broken.status.success(), "{}", text(&broken));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("is no longer ours"), "{err}");
    assert!(err.contains("two runs applied the same stack"), "{err}");
    assert_eq!(h.forge_applies(), vec!["b"], "the forge keeps one state");
    assert_linear(&h);
    h.assert_no_plaintext();
}

/// The real terraform on both hosts: what one host applied, the other
/// sees as its state after the sync (no changes, no new commit).
#[test]
fn real_terraform_state_follows_the_forge_between_hosts() {
    require_bin("terraform");
    let h = Hosts::new();
    let a = h.host("a");
    std::fs::write(
        a.join("stacks/infra/main.tf"),
        "resource \"terraform_data\" \"x\" {\n  input = \"from-a\"\n}\n",
    )
    .unwrap();
    git(&a, &["add", "-A"]);
    git(&a, &["commit", "-q", "-m", "infra: terraform_data"]);
    git(&a, &["push", "-q"]);
    git(&h.host("b"), &["pull", "-q", "--rebase"]);
    let tf = [("TG_ENGINE", "terraform")];
    for host in ["a", "b"] {
        assert_ok(
            &h.tg(host, &["init", "--stack", "infra", "-input=false"], &tf)
                .output()
                .unwrap(),
        );
    }
    let first = h.apply("a", &tf);
    assert_ok(&first);
    assert!(String::from_utf8_lossy(&first.stdout).contains("1 added"));
    let tip = h.forge_git(&["rev-parse", "main"]);
    let second = h.apply("b", &tf);
    assert_ok(&second);
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("No changes"), "{}", text(&second));
    assert!(String::from_utf8_lossy(&second.stderr).contains("took 1 new state commit(s)"));
    assert_eq!(
        h.forge_git(&["rev-parse", "main"]),
        tip,
        "no new state commit"
    );
    h.assert_no_plaintext();
}
