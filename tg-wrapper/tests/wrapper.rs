//! `tg` as a user runs it: a fake infra repo, a stub engine recording what
//! it receives, and for the real flows the real terraform, sops, age, git,
//! PostgreSQL (pg backend) and OpenBao.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use testsupport::{
    OpenBao, Postgres, age_keygen, assert_ok, jwt_key, require_bin, run_ok, service_account_jwt,
    tg::sops_config, wait_for, write_executable,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

/// Stub engines' answer to the destroy brake: `plan ... -out=F` writes F
/// (logged to `plans.txt` next to the stub's folder), `show -json F`
/// prints a plan without changes.
const PLAN_AND_SHOW: &str = r#"case " $* " in *" -out="*) for a in "$@"; do case "$a" in -out=*) : > "${a#-out=}";; esac; done; echo "$*" >> "$(dirname "$0")/../plans.txt"; exit 0;; esac
[ "$1" = show ] && { echo '{"format_version":"1.2","resource_changes":[]}'; exit 0; }
"#;

struct Fixture {
    dir: tempfile::TempDir,
    age_key_file: PathBuf,
}

impl Fixture {
    /// A git repo with a root terragrunt.hcl (Tier-0: infra), stacks
    /// faketest (Tier-1) and infra (Tier-0), and a .sops.yaml for age.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repo");
        for s in ["faketest", "infra"] {
            std::fs::create_dir_all(root.join("stacks").join(s)).unwrap();
            std::fs::write(
                root.join("stacks").join(s).join("terragrunt.hcl"),
                "# stack\n",
            )
            .unwrap();
        }
        // The Tier-1 stack's state in its own schema (tg refuses others).
        std::fs::write(
            root.join("stacks/faketest/terragrunt.hcl"),
            "remote_state {\n  backend = \"pg\"\n  config = {\n    schema_name = \"faketest\"\n  }\n}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("terragrunt.hcl"),
            "locals {\n  tier0_stacks = [\"infra\", \"vault\"]\n}\n",
        )
        .unwrap();
        let key = dir.path().join("age.txt");
        let recipient = age_keygen(&key);
        std::fs::write(root.join(".sops.yaml"), sops_config(&recipient)).unwrap();
        std::fs::write(root.join(".gitignore"), ".terraform/\n").unwrap();
        let git = |args: &[&str]| run_ok(Command::new("git").args(args).current_dir(&root));
        git(&["init", "-q", "-b", "main"]);
        git(&["config", "user.email", "tg-tests@example.invalid"]);
        git(&["config", "user.name", "tg tests"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "init"]);
        Fixture {
            dir,
            age_key_file: key,
        }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn stack(&self, s: &str) -> PathBuf {
        self.root().join("stacks").join(s)
    }

    /// A stub engine named `name` that records its args (one per line) and
    /// PG_CONN_STR, then runs `extra` shell code. The destroy brake's
    /// `plan -out=` and `show -json` ([`PLAN_AND_SHOW`]) are answered
    /// first and not recorded: what is recorded is the run itself.
    fn stub(&self, name: &str, extra: &str) -> PathBuf {
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let capture = self.dir.path().join("args.txt");
        let envcap = self.dir.path().join("env.txt");
        let path = bin.join(name);
        write_executable(
            &path,
            &format!(
                "#!/usr/bin/env bash\n{PLAN_AND_SHOW}for a in \"$@\"; do echo \"$a\" >> '{}'; done\necho \"PG_CONN_STR=$PG_CONN_STR\" >> '{}'\n{extra}\nexit 0\n",
                capture.display(),
                envcap.display()
            ),
        );
        path
    }

    fn recorded_args(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("args.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn tg(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.tg_command(cwd, args, env).output().unwrap()
    }

    /// `tg` with this fixture's keys, temp dir and home, and no Vault or
    /// engine settings from the test process; `env` on top.
    fn tg_command(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(TG);
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.args(args)
            .current_dir(cwd)
            .env("PATH", path)
            .env("SOPS_AGE_KEY_FILE", &self.age_key_file)
            .env("TG_TMPDIR", self.tmp_base())
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env_remove("VAULT_TOKEN")
            .env_remove("VAULT_ADDR")
            .env_remove("TG_ENGINE")
            .env_remove("TG_LOCK_TIMEOUT")
            .env("HOME", self.dir.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn tmp_base(&self) -> PathBuf {
        let p = self.dir.path().join("plain-tmp");
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Fails when `needle` appears in any file of the repo working tree or
    /// in any blob git has stored.
    fn assert_no_plaintext(&self, needle: &str) {
        let out = Command::new("grep")
            .args(["-rl", "--exclude-dir=.git", needle])
            .arg(self.root())
            .output()
            .unwrap();
        assert!(
            out.stdout.is_empty(),
            "plaintext found in: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let all = Command::new("git")
            .args(["rev-list", "--all"])
            .current_dir(self.root())
            .output()
            .unwrap();
        for rev in String::from_utf8_lossy(&all.stdout).lines() {
            let g = Command::new("git")
                .args(["grep", "-l", needle, rev])
                .current_dir(self.root())
                .output()
                .unwrap();
            assert!(
                g.stdout.is_empty(),
                "plaintext committed in {rev}: {}",
                String::from_utf8_lossy(&g.stdout)
            );
        }
    }

    fn decrypt_state(&self, stack: &str) -> String {
        let bytes = std::fs::read(
            self.root()
                .join("state/stacks")
                .join(stack)
                .join("terraform.tfstate"),
        )
        .unwrap();
        let keys = sops_rs::KeySources {
            age_identities: sops_rs::keys::parse_identities(
                &std::fs::read_to_string(&self.age_key_file).unwrap(),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        String::from_utf8(sops_rs::decrypt_binary(&bytes, &keys).unwrap().0).unwrap()
    }

    fn last_commit_message(&self) -> String {
        let out = run_ok(
            Command::new("git")
                .args(["log", "-1", "--format=%s"])
                .current_dir(self.root()),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

// ---- the seeds' five pytest cases (stub terragrunt on PATH, PG_CONN_STR preset)

fn seeds_case(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let f = Fixture::new();
    f.stub("terragrunt", "");
    let mut env = env.to_vec();
    env.push(("PG_CONN_STR", "postgres://stub"));
    assert_ok(&f.tg(&f.stack("faketest"), args, &env));
    f.recorded_args()
}

#[test]
fn apply_non_interactive_has_lock_timeout_and_auto_approve() {
    let args = seeds_case(&["apply", "--non-interactive"], &[]);
    assert!(args.contains(&"apply".into()));
    assert!(
        args.contains(&"-auto-approve".into()),
        "non-interactive apply must keep -auto-approve: {args:?}"
    );
    assert!(
        args.contains(&"-lock-timeout=5m".into()),
        "apply must wait for a contended state lock"
    );
    assert_eq!(args[1], "-auto-approve", "right after apply");
}

#[test]
fn plan_has_lock_timeout_but_not_auto_approve() {
    let args = seeds_case(&["plan"], &[]);
    assert!(args.contains(&"plan".into()) && args.contains(&"-lock-timeout=5m".into()));
    assert!(
        !args.contains(&"-auto-approve".into()),
        "plan must never get -auto-approve"
    );
}

#[test]
fn locking_verbs_get_lock_timeout() {
    for verb in ["destroy", "refresh", "import"] {
        let args = seeds_case(&[verb], &[]);
        assert!(
            args.contains(&"-lock-timeout=5m".into()),
            "{verb} should carry -lock-timeout"
        );
    }
}

#[test]
fn non_locking_verbs_have_no_lock_timeout() {
    for verb in ["validate", "init", "output", "fmt", "providers"] {
        let args = seeds_case(&[verb], &[]);
        assert!(args.contains(&verb.to_string()));
        assert!(
            !args.iter().any(|a| a.starts_with("-lock-timeout")),
            "{verb}: {args:?}"
        );
    }
    let args = seeds_case(&["state", "list"], &[]);
    assert!(!args.iter().any(|a| a.starts_with("-lock-timeout")));
}

#[test]
fn lock_timeout_is_env_overridable() {
    assert!(
        seeds_case(&["plan"], &[("TG_LOCK_TIMEOUT", "2m")]).contains(&"-lock-timeout=2m".into())
    );
    assert!(seeds_case(&["plan"], &[("TG_LOCK_TIMEOUT", "0")]).contains(&"-lock-timeout=0".into()));
}

// ---- resolution, engine choice, worktrees

#[test]
fn stack_flag_works_from_anywhere_and_args_are_forwarded_untouched() {
    let f = Fixture::new();
    f.stub("terragrunt", "pwd >> \"$(dirname \"$0\")/../cwd.txt\"");
    assert_ok(&f.tg(
        &f.root(),
        &[
            "plan",
            "--stack",
            "faketest",
            "-var",
            "x=a b",
            "-target=foo.bar",
        ],
        &[("PG_CONN_STR", "postgres://stub")],
    ));
    assert_eq!(
        f.recorded_args(),
        [
            "plan",
            "-lock-timeout=5m",
            "-var",
            "x=a b",
            "-target=foo.bar"
        ]
    );
    let cwd = std::fs::read_to_string(f.dir.path().join("cwd.txt")).unwrap();
    assert!(
        cwd.trim().ends_with("stacks/faketest"),
        "engine runs in the stack folder: {cwd}"
    );
    let out = f.tg(&f.root(), &["plan", "--stack", "nope"], &[]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no stack \"nope\"")
    );
}

#[test]
fn terraform_engine_never_gets_terragrunt_flags_and_exit_status_passes_through() {
    let f = Fixture::new();
    let stub = f.stub("terraform", "exit 3");
    let out = f.tg(
        &f.stack("faketest"),
        &["apply", "--non-interactive"],
        &[
            ("TG_ENGINE", stub.to_str().unwrap()),
            ("PG_CONN_STR", "postgres://stub"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "engine exit status is passed through"
    );
    // The run applies the plan the destroy brake read, nothing else.
    let args = f.recorded_args();
    assert_eq!(
        args[..4],
        ["apply", "-auto-approve", "-lock-timeout=5m", "-input=false"]
    );
    assert!(
        args.len() == 5 && args[4].ends_with("/tg.tfplan"),
        "{args:?}"
    );
    let plans = std::fs::read_to_string(f.dir.path().join("plans.txt")).unwrap();
    assert!(
        plans.starts_with("plan -lock-timeout=5m -input=false -out=") && plans.contains(&args[4]),
        "{plans}"
    );
}

#[test]
fn mutating_verbs_are_refused_in_a_linked_worktree() {
    let f = Fixture::new();
    f.stub("terragrunt", "");
    let wt = f.dir.path().join("wt");
    run_ok(
        Command::new("git")
            .args(["worktree", "add", "-q"])
            .arg(&wt)
            .current_dir(f.root()),
    );
    let out = f.tg(
        &wt.join("stacks/faketest"),
        &["apply"],
        &[("PG_CONN_STR", "postgres://stub")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("git worktree") && err.contains("main checkout")
            || err.contains("Run it from"),
        "{err}"
    );
    assert!(f.recorded_args().is_empty(), "the engine never ran");
    assert_ok(&f.tg(
        &wt.join("stacks/faketest"),
        &["plan"],
        &[("PG_CONN_STR", "postgres://stub")],
    ));
}

// ---- Tier-1

#[test]
fn tier1_conn_string_goes_by_environment_only() {
    let f = Fixture::new();
    f.stub("terragrunt", "");
    let secret = "postgres://u:very-secret-pw@db:5432/s";
    let out = f.tg(&f.stack("faketest"), &["plan"], &[("PG_CONN_STR", secret)]);
    assert_ok(&out);
    assert!(
        !f.recorded_args()
            .iter()
            .any(|a| a.contains("very-secret-pw")),
        "never on the command line"
    );
    let env = std::fs::read_to_string(f.dir.path().join("env.txt")).unwrap();
    assert!(env.contains(secret), "the engine sees PG_CONN_STR");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("very-secret-pw"), "never in tg's output");
}

#[test]
fn tier1_vault_failure_names_the_step_and_shows_the_real_error() {
    let f = Fixture::new();
    f.stub("terragrunt", "");
    let port = testsupport::free_port();
    let addr = format!("http://127.0.0.1:{port}");
    let out = f.tg(
        &f.stack("faketest"),
        &["plan"],
        &[("VAULT_ADDR", &addr), ("VAULT_TOKEN", "t")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("read PG credentials from Vault (database/static-creds/pg-terraform-state)"),
        "{err}"
    );
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "the real error is shown: {err}"
    );
    assert!(f.recorded_args().is_empty());
    // Permission denied from a real OpenBao: Vault's own words come through.
    let bao = OpenBao::start();
    let out = f.tg(
        &f.stack("faketest"),
        &["plan"],
        &[("VAULT_ADDR", &bao.addr()), ("VAULT_TOKEN", "not-a-token")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Code: 403") && err.contains("permission denied"),
        "{err}"
    );
}

/// Writes the stack's main.tf and commits it: tg applies only committed
/// code (the forge check refuses uncommitted changes to a stack's files).
fn terraform_data_stack(dir: &Path, backend: &str, marker: &str) {
    std::fs::write(
        dir.join("main.tf"),
        format!("terraform {{\n{backend}\n}}\nresource \"terraform_data\" \"x\" {{\n  input = \"{marker}\"\n}}\noutput \"v\" {{\n  value = terraform_data.x.output\n}}\n"),
    )
    .unwrap();
    run_ok(Command::new("git").args(["add", "-A"]).current_dir(dir));
    run_ok(
        Command::new("git")
            .args(["commit", "-q", "-m", "stack code"])
            .current_dir(dir),
    );
}

/// A PostgreSQL with what a Tier-1 run reads (`testsupport::tg::tier1_services`).
fn tier1_services() -> (Postgres, OpenBao) {
    let pg = Postgres::start();
    let bao = testsupport::tg::tier1_services(&pg, "disable");
    (pg, bao)
}

#[test]
fn tier1_apply_with_vault_static_creds_and_real_pg_backend() {
    require_bin("terraform");
    let f = Fixture::new();
    let (pg, bao) = tier1_services();
    terraform_data_stack(
        &f.stack("faketest"),
        "  backend \"pg\" {\n    schema_name = \"faketest\"\n  }",
        "tier1-value",
    );
    let port = pg.port().to_string();
    let addr = bao.addr();
    let env = [
        ("TG_ENGINE", "terraform"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_TOKEN", bao.token()),
        ("TG_PG_HOST", "127.0.0.1"),
        ("TG_PG_PORT", port.as_str()),
    ];
    assert_ok(&f.tg(&f.stack("faketest"), &["init", "-input=false"], &env));
    let out = f.tg(&f.stack("faketest"), &["apply", "--non-interactive"], &env);
    assert_ok(&out);
    let rows = pg.psql(
        "terraform_state",
        "SELECT count(*) FROM faketest.states WHERE data LIKE '%tier1-value%'",
    );
    assert_eq!(rows.trim(), "1", "state stored in PostgreSQL");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("postgres://"), "conn string never printed");
}

/// CI has no VAULT_TOKEN: tg logs in with the pod's service-account token
/// (`VAULT_K8S_ROLE`). OpenBao's JWT method, mounted where the kubernetes
/// method would be, takes the same `{role, jwt}` login and validates the
/// token against a key we hold, so the whole login runs for real offline.
#[test]
fn tier1_ci_logs_in_to_vault_with_its_service_account_token() {
    require_bin("terraform");
    let f = Fixture::new();
    let (pg, bao) = tier1_services();
    let (key, pem) = jwt_key();
    let dir = f.dir.path();
    std::fs::write(
        dir.join("tg-state.hcl"),
        "path \"database/static-creds/pg-terraform-state\" { capabilities = [\"read\"] }\n",
    )
    .unwrap();
    bao.bao(&[
        "policy",
        "write",
        "tg-state",
        &dir.join("tg-state.hcl").display().to_string(),
    ]);
    bao.enable_kubernetes_jwt_login(
        &pem,
        "ci",
        "system:serviceaccount:woodpecker:ci",
        "tg-state",
    );
    terraform_data_stack(
        &f.stack("faketest"),
        "  backend \"pg\" {\n    schema_name = \"faketest\"\n  }",
        "via-sa-token",
    );
    let token_file = dir.join("sa-token");
    let port = pg.port().to_string();
    let addr = bao.addr();
    let token_path = token_file.display().to_string();
    let env = [
        ("TG_ENGINE", "terraform"),
        ("VAULT_ADDR", addr.as_str()),
        ("VAULT_K8S_ROLE", "ci"),
        ("VAULT_K8S_JWT_PATH", token_path.as_str()),
        ("TG_PG_HOST", "127.0.0.1"),
        ("TG_PG_PORT", port.as_str()),
    ];

    // A token of another service account is refused, and tg says which step failed.
    std::fs::write(
        &token_file,
        service_account_jwt(&key, "system:serviceaccount:default:intruder"),
    )
    .unwrap();
    let out = f.tg(&f.stack("faketest"), &["init", "-input=false"], &env);
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("Vault kubernetes login (auth/kubernetes/login role=ci)"),
        "names the step: {text}"
    );
    assert!(
        text.contains("Code: 400") && text.contains("invalid subject (sub) claim"),
        "shows Vault's own reason: {text}"
    );

    std::fs::write(
        &token_file,
        service_account_jwt(&key, "system:serviceaccount:woodpecker:ci"),
    )
    .unwrap();
    assert_ok(&f.tg(&f.stack("faketest"), &["init", "-input=false"], &env));
    assert_ok(&f.tg(&f.stack("faketest"), &["apply", "--non-interactive"], &env));
    let rows = pg.psql(
        "terraform_state",
        "SELECT count(*) FROM faketest.states WHERE data LIKE '%via-sa-token%'",
    );
    assert_eq!(
        rows.trim(),
        "1",
        "state stored with the credentials the login allowed"
    );
}

// ---- Tier-0
//
// These tests are about the state's handling (encryption, signals, kills),
// in a repo without a remote; they take the break-glass file lock
// (`--local-lock`). The Vault lock shared by hosts, and the sync with the
// forge, are tested in tests/tier0_hosts.rs.

#[test]
fn tier0_apply_encrypts_commits_and_leaves_no_plaintext() {
    require_bin("terraform");
    let f = Fixture::new();
    // The state holds the upper-cased marker; the config only the lower-case one.
    // Committed by the helper: Tier-0 applies only committed code.
    terraform_data_stack(&f.stack("infra"), "", "${upper(\"tier0-marker-7f3a\")}");
    let env = [("TG_ENGINE", "terraform")];
    assert_ok(&f.tg(&f.stack("infra"), &["init", "-input=false"], &env));
    assert_ok(&f.tg(
        &f.stack("infra"),
        &["apply", "--non-interactive", "--local-lock"],
        &env,
    ));
    let msg = f.last_commit_message();
    assert!(
        msg.starts_with("state(infra): update encrypted state 20") && msg.ends_with('Z'),
        "{msg}"
    );
    assert!(f.decrypt_state("infra").contains("TIER0-MARKER-7F3A"));
    f.assert_no_plaintext("TIER0-MARKER-7F3A");
    // The real sops reads what we committed.
    let out = Command::new(require_bin("sops"))
        .args(["decrypt", "state/stacks/infra/terraform.tfstate"])
        .current_dir(f.root())
        .env("SOPS_AGE_KEY_FILE", &f.age_key_file)
        .env("SOPS_DISABLE_VERSION_CHECK", "1")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("TIER0-MARKER-7F3A"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No change → no commit; plan reads the decrypted state.
    let head = run_ok(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(f.root()),
    )
    .stdout;
    assert_ok(&f.tg(
        &f.stack("infra"),
        &["apply", "--non-interactive", "--local-lock"],
        &env,
    ));
    let plan = f.tg(
        &f.stack("infra"),
        &["plan", "-detailed-exitcode", "-no-color"],
        &env,
    );
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    assert_eq!(
        run_ok(
            Command::new("git")
                .args(["rev-parse", "HEAD"])
                .current_dir(f.root())
        )
        .stdout,
        head
    );
    assert_eq!(
        std::fs::read_dir(f.tmp_base()).unwrap().count(),
        0,
        "plaintext folders removed"
    );
}

#[test]
fn tier0_lock_contention_says_who_holds_it() {
    let f = Fixture::new();
    f.stub("terragrunt", "");
    let locks = f.root().join(".tg/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    // Our own (live) pid holds it.
    std::fs::write(
        locks.join("infra.lock"),
        format!(
            "alice@{} pid {} (apply) since now",
            host.trim(),
            std::process::id()
        ),
    )
    .unwrap();
    let out = f.tg(&f.stack("infra"), &["apply", "--local-lock"], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is locked by alice@"), "{err}");
    // A dead holder is stale and taken over.
    std::fs::write(
        locks.join("infra.lock"),
        format!("bob@{} pid 999999 (apply) since then", host.trim()),
    )
    .unwrap();
    assert_ok(&f.tg(&f.stack("infra"), &["apply", "--local-lock"], &[]));
    assert!(!locks.join("infra.lock").exists(), "released after the run");
}

/// A stub engine that writes a new plaintext state (with `marker`) to the
/// `-state=` path, records its pid, then sleeps so the test can kill things.
fn slow_state_writer(f: &Fixture, marker: &str) -> PathBuf {
    let pidfile = f.dir.path().join("engine.pid");
    f.stub(
        "terraform",
        &format!(
            "echo $$ > '{}'\nfor a in \"$@\"; do case \"$a\" in -state=*) printf '{{\"version\":4,\"serial\":2,\"lineage\":\"l\",\"outputs\":{{\"m\":{{\"value\":\"{marker}\",\"type\":\"string\"}}}},\"resources\":[]}}\\n' > \"${{a#-state=}}\";; esac; done\nsleep 30",
            pidfile.display()
        ),
    )
}

#[test]
fn sigkill_of_the_engine_mid_apply_keeps_state_encrypted_and_valid() {
    let f = Fixture::new();
    let engine = slow_state_writer(&f, "killed-engine-marker");
    let tg = f
        .tg_command(
            &f.stack("infra"),
            &["apply", "--non-interactive", "--local-lock"],
            &[("TG_ENGINE", engine.to_str().unwrap())],
        )
        .spawn()
        .unwrap();
    let pid = wait_for(&f.dir.path().join("engine.pid"));
    run_ok(Command::new("kill").args(["-KILL", &pid]));
    let out = tg.wait_with_output().unwrap();
    assert!(!out.status.success());
    // The engine had written new state: tg encrypted and committed it.
    assert!(f.decrypt_state("infra").contains("killed-engine-marker"));
    f.assert_no_plaintext("killed-engine-marker");
    assert_eq!(std::fs::read_dir(f.tmp_base()).unwrap().count(), 0);
}

#[test]
fn sigkill_of_tg_leaves_no_plaintext_in_the_repo_and_the_old_state_valid() {
    let f = Fixture::new();
    // A first state, encrypted and committed.
    let engine = f.stub("terraform", "for a in \"$@\"; do case \"$a\" in -state=*) echo '{\"version\":4,\"serial\":1,\"lineage\":\"l\",\"outputs\":{},\"resources\":[]}' > \"${a#-state=}\";; esac; done");
    assert_ok(&f.tg(
        &f.stack("infra"),
        &["apply", "--local-lock"],
        &[("TG_ENGINE", engine.to_str().unwrap())],
    ));
    let before = f.decrypt_state("infra");
    let engine = slow_state_writer(&f, "killed-tg-marker");
    let mut tg = f
        .tg_command(
            &f.stack("infra"),
            &["apply", "--local-lock"],
            &[("TG_ENGINE", engine.to_str().unwrap())],
        )
        .spawn()
        .unwrap();
    let engine_pid = wait_for(&f.dir.path().join("engine.pid"));
    tg.kill().unwrap(); // SIGKILL
    tg.wait().unwrap();
    run_ok(Command::new("kill").args(["-KILL", &engine_pid]));
    f.assert_no_plaintext("killed-tg-marker");
    assert_eq!(
        f.decrypt_state("infra"),
        before,
        "the committed state is the old one, intact"
    );
    // The next run sweeps the dead run's plaintext folder and the stale lock.
    assert_eq!(
        std::fs::read_dir(f.tmp_base()).unwrap().count(),
        1,
        "the killed run's folder is still there"
    );
    let quick = f.stub("terraform", "");
    assert_ok(&f.tg(
        &f.stack("infra"),
        &["apply", "--local-lock"],
        &[("TG_ENGINE", quick.to_str().unwrap())],
    ));
    assert_eq!(std::fs::read_dir(f.tmp_base()).unwrap().count(), 0, "swept");
}

#[test]
fn sigterm_to_tg_reaches_the_engine_once_and_the_new_state_is_encrypted() {
    let f = Fixture::new();
    let pidfile = f.dir.path().join("engine.pid");
    let sigs = f.dir.path().join("signals.txt");
    // Like terraform: on the first SIGTERM it writes the state and exits
    // non-zero; a second signal would mean "exit immediately".
    let engine = f.stub(
        "terraform",
        &format!(
            "for a in \"$@\"; do case \"$a\" in -state=*) st=\"${{a#-state=}}\";; esac; done\n\
             trap 'echo TERM >> \"{sigs}\"; echo {{\\\"version\\\":4,\\\"serial\\\":3,\\\"lineage\\\":\\\"l\\\",\\\"outputs\\\":{{\\\"m\\\":{{\\\"value\\\":\\\"sigterm-marker\\\",\\\"type\\\":\\\"string\\\"}}}},\\\"resources\\\":[]}} > \"$st\"; kill $! 2>/dev/null; exit 3' TERM\n\
             sleep 30 &\necho $$ > '{pid}'\nwait",
            sigs = sigs.display(),
            pid = pidfile.display()
        ),
    );
    let tg = f
        .tg_command(
            &f.stack("infra"),
            &["apply", "--non-interactive", "--local-lock"],
            &[("TG_ENGINE", engine.to_str().unwrap())],
        )
        .spawn()
        .unwrap();
    wait_for(&pidfile);
    run_ok(Command::new("kill").args(["-TERM", &tg.id().to_string()]));
    let out = tg.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the engine's exit status");
    assert_eq!(wait_for(&sigs), "TERM", "exactly one SIGTERM forwarded");
    assert!(f.decrypt_state("infra").contains("sigterm-marker"));
    f.assert_no_plaintext("sigterm-marker");
    assert_eq!(std::fs::read_dir(f.tmp_base()).unwrap().count(), 0);
}

/// Ctrl-C on a real terminal: the kernel sends SIGINT to the whole
/// foreground process group, so tg must not add a second one (terraform
/// would then exit without its graceful shutdown).
#[test]
fn ctrl_c_on_a_terminal_reaches_the_engine_exactly_once() {
    let f = Fixture::new();
    let pidfile = f.dir.path().join("engine.pid");
    let sigs = f.dir.path().join("signals.txt");
    let engine = f.stub(
        "terraform",
        &format!(
            "trap 'echo INT >> \"{}\"' INT\necho $$ > '{}'\nfor i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.2; done\nexit 7",
            sigs.display(),
            pidfile.display()
        ),
    );
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    // util-linux `setsid --ctty`: a new session whose controlling terminal
    // is the pty, with tg in its foreground process group.
    let mut cmd = Command::new(require_bin("setsid"));
    cmd.args(["--ctty", "--wait", TG, "plan"])
        .current_dir(f.stack("faketest"))
        .env("TG_ENGINE", &engine)
        .env("PG_CONN_STR", "postgres://unused")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    let mut tg = cmd.spawn().unwrap();
    wait_for(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    let mut master = std::fs::File::from(pty.master);
    std::io::Write::write_all(&mut master, b"\x03").unwrap();
    let status = tg.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(7),
        "tg survives and passes the engine's status"
    );
    assert_eq!(
        std::fs::read_to_string(&sigs).unwrap().trim(),
        "INT",
        "one SIGINT, not two"
    );
}

/// A Vault stand-in on loopback: Transit `encrypt` answers with a fixed
/// ciphertext; a `decrypt` request is reported on the returned channel and
/// never answered (its connection is kept open), so a tg decrypting a state
/// wrapped for it waits in the middle of decryption for as long as the test
/// needs. Returns the address and the channel.
fn hanging_vault() -> (String, std::sync::mpsc::Receiver<()>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let mut length = 0;
            let mut line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            if request_line.contains("/decrypt/") {
                held.push(reader);
                let _ = tx.send(());
                continue;
            }
            let answer = r#"{"data":{"ciphertext":"vault:v1:stand-in"}}"#;
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
        }
    });
    (addr, rx)
}

/// A signal while tg decrypts a Tier-0 state (before the engine starts)
/// removes the private plaintext folder and ends tg with 128 + the signal
/// number; the engine never runs.
#[test]
fn a_signal_during_decryption_removes_the_plaintext_folder() {
    let f = Fixture::new();
    let engine = f.stub("terraform", "");
    let (vault, decrypting) = hanging_vault();
    let keys = sops_rs::KeySources {
        vault_token: Some("stand-in-token".into()),
        ..Default::default()
    };
    let recipients = sops_rs::Recipients {
        vault: vec![sops_rs::VaultKey {
            address: vault.clone(),
            engine_path: "transit".into(),
            key_name: "state".into(),
        }],
        ..Default::default()
    };
    let state = f.root().join("state/stacks/infra/terraform.tfstate");
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(
        &state,
        sops_rs::encrypt_binary(br#"{"version":4}"#, &recipients, None, &keys).unwrap(),
    )
    .unwrap();
    // Committed, as encrypted state always is.
    run_ok(
        Command::new("git")
            .args(["add", "-A"])
            .current_dir(f.root()),
    );
    run_ok(
        Command::new("git")
            .args(["commit", "-q", "-m", "state(infra)"])
            .current_dir(f.root()),
    );
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let tg = f
            .tg_command(
                &f.stack("infra"),
                &["apply", "--non-interactive", "--local-lock"],
                &[
                    ("TG_ENGINE", engine.to_str().unwrap()),
                    ("VAULT_TOKEN", "stand-in-token"),
                ],
            )
            .spawn()
            .unwrap();
        decrypting
            .recv_timeout(Duration::from_secs(20))
            .expect("tg asks Vault to decrypt the data key");
        assert_eq!(
            std::fs::read_dir(f.tmp_base()).unwrap().count(),
            1,
            "the private folder exists while decrypting"
        );
        run_ok(Command::new("kill").args([&format!("-{signal}"), &tg.id().to_string()]));
        let out = tg.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "SIG{signal}: 128 + signo");
        assert_eq!(
            std::fs::read_dir(f.tmp_base()).unwrap().count(),
            0,
            "SIG{signal}: the plaintext folder is removed"
        );
        assert!(f.recorded_args().is_empty(), "the engine never ran");
    }
}
