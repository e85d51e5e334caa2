//! A cancelled pipeline: SIGTERM to `tg ci apply` while a Tier-0 and a
//! Tier-1 stack apply, with the real terraform, PostgreSQL (pg backend),
//! sops/age, OpenBao (Vault API) and a bare git repo as the forge. Both
//! stacks finish their state handling, the report marks them INTERRUPTED,
//! and the next `--since last-success` run applies everything the
//! cancelled one did not finish.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testsupport::{
    OpenBao, Postgres, age_keygen, git, output_text, require_bin, run_ok,
    tg::{sops_config, without_ambient_env},
    write_file,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Setup {
    dir: tempfile::TempDir,
    pg: Postgres,
    bao: OpenBao,
    age_key: PathBuf,
}

impl Setup {
    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Plaintext may only ever live here (TG_TMPDIR).
    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Each stack's provisioner appends the stack name here when it starts.
    fn log(&self) -> PathBuf {
        self.dir.path().join("provisioned.log")
    }

    fn write(&self, rel: &str, body: &str) {
        write_file(&self.root(), rel, body);
    }

    /// A stack whose one resource is replaced when `version` changes; its
    /// provisioner logs the start, then sleeps $TG_TEST_SLEEP seconds.
    fn stack(&self, name: &str, pg: bool, version: u32) {
        let backend = if pg {
            format!("terraform {{\n  backend \"pg\" {{\n    schema_name = \"{name}\"\n  }}\n}}\n")
        } else {
            String::new()
        };
        self.write(
            &format!("stacks/{name}/main.tf"),
            &format!(
                "{backend}resource \"terraform_data\" \"run\" {{\n  triggers_replace = \"{version}\"\n  provisioner \"local-exec\" {{\n    command = \"echo {name} >> '{log}'; exec sleep $${{TG_TEST_SLEEP:-0}}\"\n  }}\n}}\n",
                log = self.log().display()
            ),
        );
    }

    fn commit(&self, msg: &str) -> String {
        git(&self.root(), &["add", "-A"]);
        git(&self.root(), &["commit", "-q", "-m", msg]);
        git(&self.root(), &["push", "-q", "origin", "main"]);
        git(&self.root(), &["rev-parse", "HEAD"])
    }

    fn tg(&self, args: &[&str], sleep: u32) -> Command {
        let mut cmd = Command::new(TG);
        cmd.args(args)
            .current_dir(self.root())
            .env("HOME", self.dir.path())
            .env("TG_ENGINE", "terraform")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("PG_CONN_STR", self.pg.superuser_url("state"))
            .env("VAULT_ADDR", self.bao.addr())
            .env("VAULT_TOKEN", self.bao.token())
            .env("SOPS_AGE_KEY_FILE", &self.age_key)
            .env("TG_TMPDIR", self.tmp())
            .env("TG_TEST_SLEEP", sleep.to_string())
            .env("TG_CI_RETRY_DELAY", "0")
            .env("TG_PLUGIN_CACHE_DIR", self.dir.path().join("plugin-cache"));
        without_ambient_env(&mut cmd);
        cmd.env_remove("TF_PLUGIN_CACHE_DIR");
        cmd
    }

    fn provisioned(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    fn state_commits(&self, stack: &str) -> usize {
        git(
            &self.root(),
            &[
                "log",
                "--format=%H",
                "--",
                &format!("state/stacks/{stack}/terraform.tfstate"),
            ],
        )
        .lines()
        .count()
    }
}

fn setup() -> Setup {
    require_bin("terraform");
    let pg = Postgres::start();
    pg.create_db("state");
    let bao = OpenBao::start();
    let dir = tempfile::tempdir().unwrap();
    let age_key = dir.path().join("age.txt");
    let recipient = age_keygen(&age_key);
    let s = Setup {
        dir,
        pg,
        bao,
        age_key,
    };
    std::fs::create_dir_all(s.tmp()).unwrap();
    s.write("terragrunt.hcl", "locals {\n  tier0_stacks = [\"a0\"]\n}\n");
    s.write(".sops.yaml", &sops_config(&recipient));
    s.write(".gitignore", ".terraform/\n.terraform.lock.hcl\n");
    // Each version bump replaces the stacks' resource: allowed for CI
    // (the destroy brake refuses unallowed replacements).
    s.write(".tg.toml", "[[destroy.allow]]\ntype = \"terraform_data\"\n");
    s.stack("a0", false, 1);
    for t1 in ["a1", "b", "c"] {
        s.stack(t1, true, 1);
    }
    let forge = s.dir.path().join("forge.git");
    run_ok(
        Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&forge),
    );
    let root = s.root();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["config", "user.email", "ci@example.invalid"]);
    git(&root, &["config", "user.name", "ci"]);
    git(&root, &["remote", "add", "origin", forge.to_str().unwrap()]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "stacks"]);
    git(&root, &["push", "-q", "-u", "origin", "main"]);
    s
}

#[test]
fn sigterm_mid_apply_interrupts_cleanly_and_the_next_run_recovers() {
    let s = setup();
    let since = ["ci", "apply", "--since", "last-success", "--jobs", "2"];

    // Run 1 applies everything and records the last success.
    let out = s.tg(&since, 0).output().unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(s.provisioned(), ["a0", "a1", "b", "c"]);
    assert_eq!(s.state_commits("a0"), 1);

    // A push changes all four; run 2 is cancelled while a0 (Tier-0) and
    // a1 (Tier-1) are applying (their provisioners sleep).
    for (name, pg) in [("a0", false), ("a1", true), ("b", true), ("c", true)] {
        s.stack(name, pg, 2);
    }
    s.commit("replace everything");
    std::fs::remove_file(s.log()).unwrap();
    let json = s.dir.path().join("report.json");
    let junit = s.dir.path().join("junit.xml");
    let mut args = since.to_vec();
    args.extend([
        "--json-report",
        json.to_str().unwrap(),
        "--junit-report",
        junit.to_str().unwrap(),
    ]);
    let mut run2 = s
        .tg(&args, 300)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while s.provisioned() != ["a0", "a1"] {
        assert!(
            Instant::now() < deadline && run2.try_wait().unwrap().is_none(),
            "a0 and a1 never both started applying: {:?}",
            s.provisioned()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    run_ok(Command::new("kill").args(["-TERM", &run2.id().to_string()]));
    let out = run2.wait_with_output().unwrap();
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(143), "128 + SIGTERM:\n{t}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let outcome = |stack: &str| {
        report["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stack"] == stack)
            .unwrap_or_else(|| panic!("{stack} not in the report: {report}"))
            .clone()
    };
    assert_eq!(outcome("a0")["outcome"], "INTERRUPTED", "{t}");
    assert_eq!(outcome("a1")["outcome"], "INTERRUPTED", "{t}");
    for later in ["b", "c"] {
        assert_eq!(outcome(later)["outcome"], "SKIPPED", "{t}");
        assert!(
            outcome(later)["detail"]
                .as_str()
                .unwrap()
                .contains("not started")
        );
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml.matches("<error message=\"INTERRUPTED\">").count(),
        2,
        "{xml}"
    );
    assert_eq!(
        s.provisioned(),
        ["a0", "a1"],
        "nothing started after the signal"
    );

    // Tier-0: the state the interrupted terraform wrote is encrypted and
    // committed; no plaintext anywhere.
    assert_eq!(s.state_commits("a0"), 2, "run 2 committed a0's state:\n{t}");
    assert_eq!(
        git(&s.root(), &["status", "--porcelain", "--", "state"]),
        ""
    );
    let enc = std::fs::read_to_string(s.root().join("state/stacks/a0/terraform.tfstate")).unwrap();
    let enc: serde_json::Value = serde_json::from_str(&enc).unwrap();
    assert!(enc["data"].as_str().unwrap().starts_with("ENC[AES256_GCM,"));
    let plain = run_ok(
        Command::new(require_bin("sops"))
            .args([
                "decrypt",
                "--input-type",
                "binary",
                "--output-type",
                "binary",
            ])
            .arg(s.root().join("state/stacks/a0/terraform.tfstate"))
            .env("SOPS_AGE_KEY_FILE", &s.age_key),
    );
    let state: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert_eq!(state["resources"][0]["type"], "terraform_data");
    assert_eq!(
        std::fs::read_dir(s.tmp()).unwrap().count(),
        0,
        "no decrypted state left in TG_TMPDIR"
    );
    for leftover in [
        "terraform.tfstate",
        "terraform.tfstate.backup",
        "errored.tfstate",
    ] {
        assert!(
            !s.root().join("stacks/a0").join(leftover).exists(),
            "plaintext {leftover} left in stacks/a0"
        );
    }
    // Tier-1: terraform wrote its state and released the PG lock.
    assert_eq!(
        s.pg.psql(
            "state",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        )
        .trim(),
        "0"
    );
    let a1 =
        s.pg.psql("state", "SELECT data FROM a1.states WHERE name = 'default'");
    assert!(a1.contains("terraform_data"), "{a1}");

    // A docs-only push: run 3's own range changes no stack, but the range
    // from the last success covers the cancelled run's stacks.
    s.write("README.md", "# infra\n");
    s.commit("docs");
    let out = s.tg(&since, 0).output().unwrap();
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(s.provisioned(), ["a0", "a0", "a1", "a1", "b", "c"], "{t}");
    assert_eq!(s.state_commits("a0"), 3);
}
