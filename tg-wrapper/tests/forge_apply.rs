//! Every tier applies only what the forge has, and never destroys by
//! surprise. A bare git repository is the forge, clones of it are a laptop
//! and a colleague; the stack is a Tier-1 one run by the real terraform
//! with its state in its own schema of a real PostgreSQL (`pg` backend),
//! so "nothing was applied" is read from the state itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use testsupport::{
    Postgres, git, output_text, require_bin, tg::without_ambient_env, write_executable,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Forge {
    dir: tempfile::TempDir,
    pg: Postgres,
}

impl Forge {
    /// A forge holding an infra repo with the Tier-1 stack `web`
    /// (`resources` terraform_data blocks), cloned as `a` and `other`.
    fn new(resources: &[&str]) -> Forge {
        require_bin("terraform");
        let pg = Postgres::start();
        pg.create_db("state");
        let f = Forge {
            dir: tempfile::tempdir().unwrap(),
            pg,
        };
        let forge = f.dir.path().join("forge.git");
        git(
            f.dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                forge.to_str().unwrap(),
            ],
        );
        let seed = f.dir.path().join("seed");
        std::fs::create_dir_all(seed.join("stacks/web")).unwrap();
        std::fs::write(
            seed.join("terragrunt.hcl"),
            "locals {\n  tier0_stacks = [\"infra\"]\n}\n",
        )
        .unwrap();
        std::fs::write(
            seed.join(".gitignore"),
            ".terraform/\n.terraform.lock.hcl\n",
        )
        .unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        Self::identity(&seed, "seed");
        f.write_stack(&seed, resources, "1");
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "infra repo"]);
        git(&seed, &["remote", "add", "origin", forge.to_str().unwrap()]);
        git(&seed, &["push", "-q", "-u", "origin", "main"]);
        for h in ["a", "other"] {
            let p = f.host(h);
            git(
                f.dir.path(),
                &["clone", "-q", forge.to_str().unwrap(), p.to_str().unwrap()],
            );
            Self::identity(&p, h);
        }
        let init = f.tg("a", &["init", "--stack", "web", "-input=false"], &[]);
        assert!(init.status.success(), "{}", output_text(&init));
        f
    }

    fn identity(repo: &Path, name: &str) {
        git(
            repo,
            &["config", "user.email", &format!("{name}@example.invalid")],
        );
        git(repo, &["config", "user.name", name]);
    }

    fn host(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `stacks/web/main.tf` with one terraform_data per name, each
    /// replaced when `version` changes.
    fn write_stack(&self, repo: &Path, resources: &[&str], version: &str) {
        let mut tf =
            String::from("terraform {\n  backend \"pg\" {\n    schema_name = \"web\"\n  }\n}\n");
        for r in resources {
            tf.push_str(&format!(
                "resource \"terraform_data\" \"{r}\" {{\n  triggers_replace = \"{version}\"\n}}\n"
            ));
        }
        std::fs::write(repo.join("stacks/web/main.tf"), tf).unwrap();
    }

    /// Commits everything on `host` and pushes it.
    fn push(&self, host: &str, message: &str) -> String {
        let h = self.host(host);
        git(&h, &["add", "-A"]);
        git(&h, &["commit", "-q", "--allow-empty", "-m", message]);
        git(&h, &["push", "-q"]);
        git(&h, &["rev-parse", "HEAD"])
    }

    fn tg(&self, host: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.tg_cmd(host, args, env).output().unwrap()
    }

    fn tg_cmd(&self, host: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(TG);
        cmd.args(args)
            .current_dir(self.host(host))
            .env("TG_ENGINE", "terraform")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("PG_CONN_STR", self.pg.superuser_url("state"))
            .env("HOME", self.dir.path())
            .env("TG_TMPDIR", self.dir.path())
            .env("TG_CI_RETRY_DELAY", "0")
            .stdin(Stdio::null());
        without_ambient_env(&mut cmd);
        for k in ["VAULT_ADDR", "VAULT_TOKEN"] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn apply(&self, host: &str) -> Output {
        self.tg(host, &["apply", "--stack", "web", "--non-interactive"], &[])
    }

    /// The managed resources in the stack's state (its PG schema), as
    /// `name=id`.
    fn applied(&self) -> Vec<String> {
        let exists = self.pg.psql(
            "state",
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'web' AND table_name = 'states'",
        );
        if exists.trim() == "0" {
            return Vec::new();
        }
        let text = self.pg.psql(
            "state",
            "SELECT data FROM web.states WHERE name = 'default'",
        );
        if text.trim().is_empty() {
            return Vec::new();
        }
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut out: Vec<String> = json["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r["name"].as_str().unwrap(),
                    r["instances"][0]["attributes"]["id"].as_str().unwrap()
                )
            })
            .collect();
        out.sort();
        out
    }

    fn names(&self) -> Vec<String> {
        self.applied()
            .iter()
            .map(|r| r.split('=').next().unwrap().to_string())
            .collect()
    }
}

/// The refusal names the cause (`needle`), says nothing was applied, and
/// the state did not move.
fn refused(f: &Forge, out: &Output, needle: &str, before: &[String]) {
    let t = output_text(out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains(needle), "expected {needle:?}:\n{t}");
    assert!(t.to_lowercase().contains("nothing was applied"), "{t}");
    assert!(!t.contains("Apply complete"), "{t}");
    assert_eq!(f.applied(), before, "nothing applied:\n{t}");
}

#[test]
fn every_tier_applies_only_what_the_forge_has() {
    let f = Forge::new(&["a"]);
    let a = f.host("a");
    let other = f.host("other");

    // An unmerged branch, pushed: plan is fine, apply is refused.
    git(&a, &["switch", "-q", "-c", "wizard/postiz"]);
    f.write_stack(&a, &["a", "b"], "1");
    git(&a, &["commit", "-q", "-am", "postiz config"]);
    git(&a, &["push", "-q", "-u", "origin", "wizard/postiz"]);
    let plan = f.tg("a", &["plan", "--stack", "web", "-input=false"], &[]);
    assert!(plan.status.success(), "{}", output_text(&plan));
    refused(
        &f,
        &f.apply("a"),
        "not the forge's default branch origin/main",
        &[],
    );
    // A branch without an upstream at all.
    git(&a, &["switch", "-q", "-c", "local-only"]);
    refused(&f, &f.apply("a"), "branch local-only has no upstream", &[]);

    // An unpushed commit on main (the local lineage applied live).
    git(&a, &["switch", "-q", "main"]);
    f.write_stack(&a, &["a", "c"], "1");
    git(&a, &["commit", "-q", "-am", "local only"]);
    refused(
        &f,
        &f.apply("a"),
        "HEAD has 1 commit(s) that origin/main does not have, changing code (stacks/web/main.tf)",
        &[],
    );
    git(&a, &["reset", "-q", "--hard", "origin/main"]);

    // Uncommitted edits of the stack.
    f.write_stack(&a, &["a", "d"], "1");
    refused(
        &f,
        &f.apply("a"),
        "uncommitted changes in web's own files: stacks/web/main.tf",
        &[],
    );
    git(&a, &["checkout", "-q", "--", "stacks/web/main.tf"]);

    // Behind: a colleague pushed new code.
    std::fs::write(other.join("README.md"), "new\n").unwrap();
    f.write_stack(&other, &["a", "e"], "1");
    f.push("other", "web: e");
    refused(&f, &f.apply("a"), "behind origin/main", &[]);
    git(&a, &["pull", "-q", "--rebase"]);

    // A git-crypt-locked clone: a *.tfvars the filter should decrypt holds
    // its ciphertext header (every non-admin's clone, seeds/002 line 1524).
    std::fs::write(
        other.join(".gitattributes"),
        "*.tfvars filter=git-crypt diff=git-crypt\n",
    )
    .unwrap();
    std::fs::write(
        other.join("stacks/web/secrets.auto.tfvars"),
        b"\0GITCRYPT\0\x8a\x13 not a value",
    )
    .unwrap();
    f.push("other", "web: secrets");
    git(&a, &["pull", "-q", "--rebase"]);
    refused(
        &f,
        &f.apply("a"),
        "git-crypt-locked: stacks/web/secrets.auto.tfvars",
        &[],
    );
    // Even break-glass does not apply ciphertext.
    refused(
        &f,
        &f.tg(
            "a",
            &[
                "apply",
                "--stack",
                "web",
                "--non-interactive",
                "--from-unpushed",
            ],
            &[],
        ),
        "git-crypt-locked",
        &[],
    );
    std::fs::remove_file(other.join("stacks/web/secrets.auto.tfvars")).unwrap();
    f.push("other", "web: no secrets file");
    git(&a, &["pull", "-q", "--rebase"]);

    // What the forge has applies.
    let out = f.apply("a");
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(f.names(), ["a", "e"]);

    // CI: a detached checkout of the pushed commit passes by construction;
    // a push pipeline of another branch does not apply.
    git(&a, &["checkout", "-q", "--detach", "origin/main"]);
    let ci = f.tg(
        "a",
        &["ci", "apply", "--stacks", "web"],
        &[("CI_COMMIT_BRANCH", "main")],
    );
    assert!(ci.status.success(), "{}", output_text(&ci));
    git(&a, &["checkout", "-q", "--detach", "origin/wizard/postiz"]);
    let before = f.applied();
    refused(
        &f,
        &f.tg(
            "a",
            &["apply", "--stack", "web", "--non-interactive"],
            &[("CI_COMMIT_BRANCH", "wizard/postiz")],
        ),
        "not the forge's default branch origin/main",
        &before,
    );

    // Break-glass: --from-unpushed applies a local commit, loudly.
    git(&a, &["switch", "-q", "main"]);
    git(&a, &["pull", "-q", "--rebase"]);
    f.write_stack(&a, &["a", "e", "hotfix"], "1");
    git(&a, &["commit", "-q", "-am", "hotfix, not pushed"]);
    let out = f.tg(
        "a",
        &[
            "apply",
            "--stack",
            "web",
            "--non-interactive",
            "--from-unpushed",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(
            "WARNING (--from-unpushed, break-glass): applying anyway: HEAD has 1 commit(s)"
        ),
        "{}",
        output_text(&out)
    );
    assert_eq!(f.names(), ["a", "e", "hotfix"]);
}

#[test]
fn destroy_brake_refuses_in_ci_and_applies_only_what_is_allowed() {
    let f = Forge::new(&["keep", "gone"]);
    let a = f.host("a");
    let out = f.apply("a");
    assert!(out.status.success(), "{}", output_text(&out));
    let full = f.applied();
    assert_eq!(f.names(), ["gone", "keep"]);

    // A commit drops a resource: CI refuses, the report row says what and how.
    f.write_stack(&a, &["keep"], "1");
    let head = f.push("a", "web: drop gone");
    let report = f.dir.path().join("report.json");
    let ci = |head: &str| {
        f.tg(
            "a",
            &[
                "ci",
                "apply",
                "--stacks",
                "web",
                "--json-report",
                report.to_str().unwrap(),
            ],
            &[("CI_COMMIT_SHA", head), ("CI_COMMIT_BRANCH", "main")],
        )
    };
    let out = ci(&head);
    refused(&f, &out, "tg: destroy brake: refused", &full);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let row = &json["stacks"][0];
    assert_eq!(row["outcome"], "FAILED");
    let detail = row["detail"].as_str().unwrap();
    assert!(
        detail.contains("destroy-refused")
            && detail.contains("delete   terraform_data.gone")
            && detail.contains("Tg-Allow-Destroy: web terraform_data.gone")
            && detail.contains("[[destroy.allow]]"),
        "{detail}"
    );
    // A human's unattended run is refused the same way.
    refused(&f, &f.apply("a"), "not allowed in an unattended run", &full);

    // Allowed by the commit message, but protected in .tg.toml: refused.
    std::fs::write(
        a.join(".tg.toml"),
        "[[destroy.protected]]\naddress = \"terraform_data.gone\"\n",
    )
    .unwrap();
    let head = f.push(
        "a",
        "web: really drop gone\n\nTg-Allow-Destroy: web terraform_data.gone",
    );
    let out = ci(&head);
    refused(&f, &out, "protected", &full);
    assert!(
        output_text(&out)
            .contains("terraform_data.gone (delete; protected: address = \"terraform_data.gone\")"),
        "{}",
        output_text(&out)
    );

    // A message allowing another stack, or another address, allows nothing.
    std::fs::remove_file(a.join(".tg.toml")).unwrap();
    let head = f.push(
        "a",
        "unprotect\n\nTg-Allow-Destroy: db terraform_data.gone\nTg-Allow-Destroy: web terraform_data.other",
    );
    refused(&f, &ci(&head), "not allowed in an unattended run", &full);

    // Allowed by the pushed commit's message: applied.
    let head = f.push(
        "a",
        "web: drop gone\n\ntg-allow-destroy: web terraform_data.gone",
    );
    let out = ci(&head);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(f.names(), ["keep"]);

    // A replacement allowed by a .tg.toml rule for the stack and type.
    let before = f.applied();
    f.write_stack(&a, &["keep"], "2");
    std::fs::write(
        a.join(".tg.toml"),
        "[[destroy.allow]]\nstack = \"web\"\ntype = \"terraform_data\"\n",
    )
    .unwrap();
    let head = f.push("a", "web: bump keep");
    let out = ci(&head);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("1 added, 0 changed, 1 destroyed"),
        "{}",
        output_text(&out)
    );
    assert_eq!(f.names(), ["keep"]);
    assert_ne!(f.applied(), before, "keep was replaced (new id)");
}

/// terraform, plus a hook run right after `show`: between the brake's
/// check and the apply.
fn hooked_engine(f: &Forge) -> PathBuf {
    let path = f.dir.path().join("engine");
    write_executable(
        &path,
        &format!(
            "#!/usr/bin/env bash\n{} \"$@\"; rc=$?\nif [ \"$1\" = show ] && [ -n \"$AFTER_SHOW\" ]; then bash -c \"$AFTER_SHOW\" >&2; fi\nexit $rc\n",
            require_bin("terraform").display()
        ),
    );
    path
}

#[test]
fn the_applied_plan_is_the_checked_one() {
    let f = Forge::new(&["keep"]);
    let a = f.host("a");
    let engine = hooked_engine(&f);
    let engine = engine.to_str().unwrap();
    // A change to the configuration after the check does not reach the
    // apply: it applies the saved plan (create `keep`), not the new code
    // (which would also create `sneaky`).
    let sneak = format!(
        "cd '{}' && printf 'resource \"terraform_data\" \"sneaky\" {{}}\\n' >> main.tf",
        a.join("stacks/web").display()
    );
    let out = f.tg(
        "a",
        &["apply", "--stack", "web", "--non-interactive"],
        &[("TG_ENGINE", engine), ("AFTER_SHOW", &sneak)],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(f.names(), ["keep"], "{}", output_text(&out));
    git(&a, &["checkout", "-q", "--", "stacks/web/main.tf"]);

    // Another apply changing the state after every check: terraform
    // refuses each saved plan as stale, tg plans again a bounded number of
    // times, and nothing of its own is applied.
    f.write_stack(&a, &["keep", "next"], "1");
    f.push("a", "web: next");
    let racer = format!(
        "cd '{}' && '{}' apply -auto-approve -input=false -target=terraform_data.keep -replace=terraform_data.keep >/dev/null",
        a.join("stacks/web").display(),
        require_bin("terraform").display()
    );
    let before_race = f.applied();
    let out = f.tg(
        "a",
        &["apply", "--stack", "web", "--non-interactive"],
        &[("TG_ENGINE", engine), ("AFTER_SHOW", &racer)],
    );
    let t = output_text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("Saved plan is stale"), "{t}");
    assert_eq!(t.matches("planning again").count(), 7, "{t}");
    assert!(t.contains("changed between plan and apply 8 times"), "{t}");
    // Only the racer's applies happened (keep replaced, but no `next`).
    assert_eq!(f.names(), ["keep"], "{t}");
    assert_ne!(f.applied(), before_race);

    // The same race once (a concurrent apply of a Tier-1 stack: the pg
    // backend's lock is per terraform command): the stale plan is made
    // again, checked again, and applied.
    let once = f.dir.path().join("raced-once");
    let racer_once = format!(
        "[ -e '{}' ] || {{ touch '{}'; {racer}; }}",
        once.display(),
        once.display()
    );
    let out = f.tg(
        "a",
        &["apply", "--stack", "web", "--non-interactive"],
        &[("TG_ENGINE", engine), ("AFTER_SHOW", &racer_once)],
    );
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("Saved plan is stale"), "{t}");
    assert!(t.contains("planning again (2/8)"), "{t}");
    assert_eq!(f.names(), ["keep", "next"], "{t}");
}

/// Attended (a terminal): deletions need the stack name typed; anything
/// else applies nothing.
#[test]
fn locally_a_deletion_needs_the_stack_name_typed() {
    let f = Forge::new(&["keep", "gone"]);
    let out = f.apply("a");
    assert!(out.status.success(), "{}", output_text(&out));
    let full = f.applied();
    f.write_stack(&f.host("a"), &["keep"], "1");
    f.push("a", "web: drop gone");
    let on_terminal = |answer: &str| -> String {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave = std::fs::File::from(pty.slave);
        let cmd = f.tg_cmd("a", &["apply", "--stack", "web", "-no-color"], &[]);
        // util-linux `setsid --ctty`: the pty is tg's controlling terminal.
        let mut wrapped = Command::new(require_bin("setsid"));
        wrapped
            .args(["--ctty", "--wait"])
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(f.host("a"))
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        let mut child = wrapped.spawn().unwrap();
        // Only the child holds the terminal now: the master reads EOF/EIO
        // once it exits.
        drop(wrapped);
        let mut master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let drain = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&all).into_owned()
        });
        // Typed ahead: the terminal keeps the line until tg reads it.
        std::io::Write::write_all(&mut master, format!("{answer}\n").as_bytes()).unwrap();
        child.wait().unwrap();
        drain.join().unwrap()
    };
    let t = on_terminal("yes");
    assert!(t.contains("type the stack name (web)"), "{t}");
    assert!(t.contains("not confirmed"), "{t}");
    assert_eq!(f.applied(), full, "{t}");
    let t = on_terminal("web");
    assert!(t.contains("delete   terraform_data.gone"), "{t}");
    assert_eq!(f.names(), ["keep"], "{t}");
}

/// Ctrl-C at the brake's question ends tg (130) before anything is applied,
/// and the private plan folder goes with it.
#[test]
fn ctrl_c_at_the_confirmation_applies_nothing() {
    let f = Forge::new(&["keep", "gone"]);
    let out = f.apply("a");
    assert!(out.status.success(), "{}", output_text(&out));
    let full = f.applied();
    f.write_stack(&f.host("a"), &["keep"], "1");
    f.push("a", "web: drop gone");
    let plans = f.dir.path().join("plans");
    std::fs::create_dir_all(&plans).unwrap();
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let cmd = f.tg_cmd(
        "a",
        &["apply", "--stack", "web", "-no-color"],
        &[("TG_TMPDIR", plans.to_str().unwrap())],
    );
    let mut wrapped = Command::new(require_bin("setsid"));
    wrapped
        .args(["--ctty", "--wait"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(f.host("a"))
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let mut child = wrapped.spawn().unwrap();
    drop(wrapped);
    let mut master = std::fs::File::from(pty.master);
    let mut reader = master.try_clone().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
            if n == 0
                || tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
            {
                break;
            }
        }
    });
    let mut seen = String::new();
    while !seen.contains("type the stack name") {
        seen.push_str(
            &rx.recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no question:\n{seen}")),
        );
    }
    assert_eq!(
        std::fs::read_dir(&plans).unwrap().count(),
        1,
        "the plan folder exists while tg asks"
    );
    std::io::Write::write_all(&mut master, b"\x03").unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("tg ignored Ctrl-C at the question:\n{seen}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130), "{seen}");
    assert_eq!(f.applied(), full, "nothing applied");
    assert_eq!(
        std::fs::read_dir(&plans).unwrap().count(),
        0,
        "the plan folder is removed"
    );
}
