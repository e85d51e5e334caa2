//! `tg ci apply` / `tg ci drift` end to end: a git repo of stacks, a stub
//! engine scripted per stack, and for the lock and Vault cases the real
//! terraform `pg` backend on a real PostgreSQL and a real OpenBao.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use testsupport::{
    OpenBao, Postgres, commit_all, git, output_text, require_bin, run_ok,
    tg::{stub_engine, stub_tg, without_ambient_env},
    write_file,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(stacks: &[&str]) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let r = Repo { dir };
        std::fs::create_dir_all(r.root().join("modules/net")).unwrap();
        std::fs::write(r.root().join("modules/net/main.tf"), "# module\n").unwrap();
        // As in an infra repo: init's folder is never committed.
        std::fs::write(r.root().join(".gitignore"), ".terraform/\n").unwrap();
        std::fs::write(
            r.root().join("terragrunt.hcl"),
            "locals {\n  tier0_stacks = [\"vault\"]\n}\n",
        )
        .unwrap();
        for s in stacks {
            r.write(&format!("stacks/{s}/terragrunt.hcl"), "# stack\n");
            // Tier-1 state goes to the stack's own schema (tg refuses others).
            r.write(
                &format!("stacks/{s}/backend.tf"),
                &format!(
                    "terraform {{\n  backend \"pg\" {{\n    schema_name = \"{}\"\n  }}\n}}\n",
                    s.replace('-', "_")
                ),
            );
        }
        git(&r.root(), &["init", "-q", "-b", "main"]);
        git(&r.root(), &["config", "user.email", "ci@example.invalid"]);
        git(&r.root(), &["config", "user.name", "ci"]);
        r.commit("init");
        r
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, rel: &str, text: &str) {
        write_file(&self.root(), rel, text);
    }

    fn commit(&self, msg: &str) -> String {
        commit_all(&self.root(), msg)
    }

    /// A stub engine: the destroy brake's `plan -out=` and `show -json`
    /// get a plan without changes; for stack S an apply pops the next line of `S.script`
    /// (ok | transient | fatal | locked | drift; default ok) and logs the
    /// order of starts and ends. `init` only logs to `S.inits`.
    fn stub(&self) -> PathBuf {
        let d = self.dir.path();
        stub_engine(
            &d.join("engine"),
            &format!(
                r#"s=$(basename "$PWD"); d='{d}'
if [ "$1" = init ]; then echo "$*" >> "$d/$s.inits"; mkdir -p .terraform; exit 0; fi
echo "start $s" >> "$d/order.log"
n=$(($(cat "$d/$s.count" 2>/dev/null || echo 0) + 1)); echo $n > "$d/$s.count"
what=$(sed -n "${{n}}p" "$d/$s.script" 2>/dev/null); what=${{what:-ok}}
sleep "${{STUB_SLEEP:-0}}"
echo "end $s" >> "$d/order.log"
case "$what" in
  ok) echo "Apply complete! Resources: 0 added, 0 changed, 0 destroyed."; exit 0;;
  drift) echo "Plan: 1 to add, 0 to change, 0 to destroy."; exit 2;;
  transient) echo "Error: Failed to install provider"; echo "net/http: request canceled (Client.Timeout exceeded while awaiting headers)" >&2; exit 1;;
  locked) echo "Error: Error acquiring the state lock" >&2; exit 1;;
  fatal) for i in $(seq 1 80); do echo "line $i"; done; echo "Error: Missing required argument" >&2; exit 1;;
esac
"#,
                d = d.display()
            ),
        )
    }

    fn script(&self, stack: &str, lines: &[&str]) {
        std::fs::write(
            self.dir.path().join(format!("{stack}.script")),
            lines.join("\n") + "\n",
        )
        .unwrap();
    }

    fn count(&self, stack: &str) -> u32 {
        std::fs::read_to_string(self.dir.path().join(format!("{stack}.count")))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }

    fn order(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("order.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn tg(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        stub_tg(TG, &self.root(), &self.stub(), self.dir.path())
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

fn summary_line<'a>(out: &'a str, stack: &str) -> &'a str {
    out.lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(stack))
        .unwrap_or_else(|| panic!("{stack} not in summary:\n{out}"))
}

#[test]
fn forge_guard_skips_the_mirror_and_fails_open() {
    let r = Repo::new(&["a"]);
    let out = r.tg(
        &["ci", "apply", "--all"],
        &[("CI_REPO_URL", "https://github.com/viktorbarzin/infra")],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        output_text(&out).contains("[forge-guard]"),
        "{}",
        output_text(&out)
    );
    assert_eq!(r.count("a"), 0, "nothing applied on the mirror");
    // The canonical forge applies, and so does an unknown one (fail-open).
    r.write(
        ".tg.toml",
        "[ci]\ncanonical_forge = \"forgejo.viktorbarzin.me\"\n",
    );
    assert!(
        r.tg(
            &["ci", "apply", "--all"],
            &[("CI_FORGE_URL", "https://forgejo.viktorbarzin.me")]
        )
        .status
        .success()
    );
    assert_eq!(r.count("a"), 1);
    assert!(r.tg(&["ci", "apply", "--all"], &[]).status.success());
    assert_eq!(r.count("a"), 2);
}

#[test]
fn ci_skip_in_the_commit_message() {
    let r = Repo::new(&["a"]);
    for msg in ["docs: typo [ci skip]", "chore [CI SKIP]"] {
        let out = r.tg(&["ci", "apply", "--all"], &[("CI_COMMIT_MESSAGE", msg)]);
        assert!(out.status.success());
        assert!(output_text(&out).contains("[ci skip]"));
    }
    assert_eq!(r.count("a"), 0);
}

#[test]
fn retries_transient_failures_skips_locks_fails_fast_on_fatal() {
    let r = Repo::new(&["flaky", "held", "broken", "fine", "vault"]);
    r.script("flaky", &["transient", "transient", "ok"]);
    r.script("held", &["locked"]);
    r.script("broken", &["fatal", "ok"]);
    let json = r.dir.path().join("report.json");
    let junit = r.dir.path().join("junit.xml");
    let out = r.tg(
        &[
            "ci",
            "apply",
            "--all",
            "--json-report",
            json.to_str().unwrap(),
            "--junit-report",
            junit.to_str().unwrap(),
        ],
        &[],
    );
    let text = output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 iff anything FAILED:\n{text}"
    );
    assert_eq!(r.count("flaky"), 3, "transient twice then OK: 3 attempts");
    assert!(
        summary_line(&text, "flaky").contains("OK") && summary_line(&text, "flaky").contains(" 3 ")
    );
    assert_eq!(r.count("held"), 1);
    assert!(summary_line(&text, "held").contains("SKIPPED"));
    assert_eq!(r.count("broken"), 1, "fatal is never retried");
    assert!(summary_line(&text, "broken").contains("FAILED"));
    assert!(
        text.contains("line 80") && text.contains("line 32\n") && !text.contains("line 31\n"),
        "the last 50 lines are shown"
    );
    assert!(
        text.contains("[vault] SKIPPED (Tier-0, human-applied"),
        "{text}"
    );
    assert_eq!(r.count("vault"), 0);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(report["stacks"].as_array().unwrap().len(), 5);
    let xml = std::fs::read_to_string(junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"tg ci apply\" tests=\"5\" failures=\"1\" skipped=\"2\">"),
        "{xml}"
    );
    // Without the fatal stack the run is green.
    r.script("held", &[]);
    let out = r.tg(&["ci", "apply", "--all"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
}

#[test]
fn transient_retries_are_bounded() {
    let r = Repo::new(&["flaky"]);
    r.script("flaky", &["transient", "transient", "transient", "ok"]);
    let out = r.tg(&["ci", "apply", "--all"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r.count("flaky"), 3, "3 attempts, then FAILED");
    let out = r.tg(&["ci", "apply", "--all", "--attempts", "1"], &[]);
    assert_eq!(out.status.code(), Some(0), "the 4th scripted run is ok");
}

#[test]
fn changed_stacks_from_the_pushed_range() {
    let r = Repo::new(&["a", "b", "c"]);
    r.write(
        "stacks/b/main.tf",
        "module \"net\" {\n  source = \"../../modules/net\"\n}\n",
    );
    let base = r.commit("b uses modules/net");
    r.write("stacks/a/main.tf", "# changed\n");
    let head = r.commit("change a");
    let out = r.tg(&["ci", "apply", "--base", &base, "--head", &head], &[]);
    assert!(out.status.success());
    assert_eq!(
        (r.count("a"), r.count("b"), r.count("c")),
        (1, 0, 0),
        "{}",
        output_text(&out)
    );
    r.write("modules/net/main.tf", "# changed module\n");
    let head2 = r.commit("change module");
    r.tg(
        &["ci", "apply"],
        &[("CI_PREV_COMMIT_SHA", &head), ("CI_COMMIT_SHA", &head2)],
    );
    assert_eq!(
        (r.count("a"), r.count("b"), r.count("c")),
        (1, 1, 0),
        "modules fan out to their users"
    );
    r.write(
        "terragrunt.hcl",
        "locals {\n  tier0_stacks = [\"vault\"]\n  # changed\n}\n",
    );
    let head3 = r.commit("root config");
    r.tg(&["ci", "apply", "--base", &head2, "--head", &head3], &[]);
    assert_eq!(
        (r.count("a"), r.count("b"), r.count("c")),
        (2, 2, 1),
        "root config fans out to every stack"
    );
    let out = r.tg(&["ci", "apply", "--base", &head3, "--head", &head3], &[]);
    assert!(output_text(&out).contains("nothing to apply"));
}

#[test]
fn platform_stacks_first_and_dependencies_respected_in_parallel() {
    let r = Repo::new(&["app1", "app2", "app3", "core"]);
    r.write(".tg.toml", "[ci]\nplatform_stacks = [\"core\"]\n");
    r.write(
        "stacks/app2/terragrunt.hcl",
        "dependency \"one\" {\n  config_path = \"../app1\"\n}\n",
    );
    r.commit("platform stacks and a dependency");
    let out = r.tg(
        &["ci", "apply", "--all", "--jobs", "3"],
        &[("STUB_SLEEP", "0.3")],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let order = r.order();
    let pos = |e: &str| {
        order
            .iter()
            .position(|l| l == e)
            .unwrap_or_else(|| panic!("{e} missing: {order:?}"))
    };
    assert!(
        pos("end core") < pos("start app1") && pos("end core") < pos("start app3"),
        "platform first: {order:?}"
    );
    assert!(
        pos("end app1") < pos("start app2"),
        "dependency respected: {order:?}"
    );
    assert!(
        pos("start app3") < pos("end app1"),
        "independent stacks overlap: {order:?}"
    );
    // A failed dependency skips its dependants.
    r.script("app1", &["ok", "fatal"]);
    let out = r.tg(&["ci", "apply", "--all", "--jobs", "2"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        output_text(&out).contains("[app2] SKIPPED (dependency app1 did not apply)"),
        "{}",
        output_text(&out)
    );
}

#[test]
fn drift_maps_exit_2_and_locks_are_not_drift() {
    let r = Repo::new(&["a", "b", "c", "vault"]);
    r.script("a", &["drift"]);
    r.script("b", &["locked"]);
    let out = r.tg(&["ci", "drift"], &[]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(summary_line(&text, "a").contains("DRIFT"));
    assert!(summary_line(&text, "b").contains("SKIPPED"));
    assert!(summary_line(&text, "c").contains("OK"));
    assert_eq!(r.count("vault"), 0, "Tier-0 vault is not planned by CI");
    let args = std::fs::read_to_string(r.dir.path().join("order.log")).unwrap();
    assert!(args.contains("start a"));
}

// ---- real PostgreSQL pg backend: lock contention

/// A pg-backend stack whose resource is replaced by every apply, committed
/// (tg applies only committed code), with the replacement allowed in
/// `.tg.toml` (the destroy brake refuses unallowed ones in unattended runs).
fn pg_stack(r: &Repo, name: &str, sleep_secs: u32) {
    r.write(
        &format!("stacks/{name}/main.tf"),
        &format!(
            "resource \"terraform_data\" \"slow\" {{\n  triggers_replace = timestamp()\n  provisioner \"local-exec\" {{\n    command = \"sleep {sleep_secs}\"\n  }}\n}}\n"
        ),
    );
    r.write(
        ".tg.toml",
        &format!("[[destroy.allow]]\nstack = \"{name}\"\ntype = \"terraform_data\"\n"),
    );
    r.commit(&format!("{name}: pg stack"));
}

fn real_env(pg: &Postgres) -> Vec<(String, String)> {
    vec![
        ("TG_ENGINE".into(), "terraform".into()),
        ("PG_CONN_STR".into(), pg.superuser_url("state")),
        ("TF_CLI_CONFIG_FILE".into(), "/dev/null".into()),
    ]
}

fn tg_real(r: &Repo, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(TG);
    cmd.args(args)
        .current_dir(r.root())
        .env("HOME", r.dir.path())
        .env("TG_CI_RETRY_DELAY", "0");
    without_ambient_env(&mut cmd);
    for k in ["VAULT_TOKEN", "VAULT_ADDR"] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn pg_backend_concurrent_applies_wait_or_skip() {
    require_bin("terraform");
    let pg = Postgres::start();
    pg.create_db("state");
    let r = Repo::new(&["shared"]);
    pg_stack(&r, "shared", 4);
    let env = real_env(&pg);
    assert!(
        tg_real(&r, &env, &["init", "--stack", "shared", "-input=false"])
            .output()
            .unwrap()
            .status
            .success()
    );

    // Two concurrent applies: the second waits under -lock-timeout, both succeed.
    let first = tg_real(
        &r,
        &env,
        &["apply", "--stack", "shared", "--non-interactive"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let second = tg_real(
        &r,
        &env,
        &["apply", "--stack", "shared", "--non-interactive"],
    )
    .output()
    .unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", output_text(&first));
    assert!(
        second.status.success(),
        "the second apply waited for the lock: {}",
        output_text(&second)
    );

    // TG_LOCK_TIMEOUT=0: the contended stack is classified locked → SKIPPED.
    let holder = tg_real(
        &r,
        &env,
        &["apply", "--stack", "shared", "--non-interactive"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut env0 = env.clone();
    env0.push(("TG_LOCK_TIMEOUT".into(), "0".into()));
    let ci = tg_real(&r, &env0, &["ci", "apply", "--all"])
        .output()
        .unwrap();
    let text = output_text(&ci);
    assert!(ci.status.success(), "a lock is not a failure: {text}");
    assert!(summary_line(&text, "shared").contains("SKIPPED"), "{text}");
    let holder = holder.wait_with_output().unwrap();
    assert!(holder.status.success(), "{}", output_text(&holder));
}

#[test]
fn pg_lock_of_a_sigkilled_run_does_not_block_the_next() {
    require_bin("terraform");
    let pg = Postgres::start();
    pg.create_db("state");
    let r = Repo::new(&["shared"]);
    pg_stack(&r, "shared", 60);
    let env = real_env(&pg);
    assert!(
        tg_real(&r, &env, &["init", "--stack", "shared", "-input=false"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let mut victim = tg_real(
        &r,
        &env,
        &["apply", "--stack", "shared", "--non-interactive"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Wait until terraform holds the lock (the provisioner runs).
    let t = Instant::now();
    loop {
        let held = pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'",
        );
        if held.trim() != "0" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "terraform never took the lock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGKILL the whole run: tg's terraform child, then tg.
    run_ok(Command::new("pkill").args(["-KILL", "-P", &victim.id().to_string()]));
    let _ = victim.kill();
    let _ = victim.wait();
    pg_stack(&r, "shared", 0);
    let mut env1 = env.clone();
    env1.push(("TG_LOCK_TIMEOUT".into(), "1m".into()));
    let started = Instant::now();
    let next = tg_real(
        &r,
        &env1,
        &["apply", "--stack", "shared", "--non-interactive"],
    )
    .output()
    .unwrap();
    assert!(next.status.success(), "{}", output_text(&next));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "not blocked beyond the lock timeout"
    );
}

// ---- real OpenBao: Vault faults

#[test]
fn vault_sealed_is_transient_and_retried_permission_denied_is_fatal() {
    let bao = OpenBao::start();
    let r = Repo::new(&["app"]);
    let stub = r.stub();
    let base = |token: &str| -> Vec<(String, String)> {
        vec![
            ("TG_ENGINE".into(), stub.display().to_string()),
            ("VAULT_ADDR".into(), bao.addr()),
            ("VAULT_TOKEN".into(), token.into()),
        ]
    };
    let mut cmd = tg_real(&r, &base("not-a-valid-token"), &["ci", "apply", "--all"]);
    cmd.env_remove("PG_CONN_STR");
    let out = cmd.output().unwrap();
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains("Code: 403") && summary_line(&text, "app").contains(" 1 "),
        "permission denied: fatal, one attempt:\n{text}"
    );

    bao.bao(&["operator", "seal"]);
    let mut cmd = tg_real(&r, &base(bao.token()), &["ci", "apply", "--all"]);
    cmd.env_remove("PG_CONN_STR");
    let out = cmd.output().unwrap();
    let text = output_text(&out);
    assert!(text.contains("Code: 503"), "{text}");
    assert!(
        text.contains("transient error") && text.contains("attempt 2/3"),
        "sealed Vault is retried:\n{text}"
    );
    assert!(summary_line(&text, "app").contains(" 3 "), "{text}");
    assert_eq!(
        r.count("app"),
        0,
        "the engine never ran without credentials"
    );
    let _: &Path = r.root().as_path();
}
