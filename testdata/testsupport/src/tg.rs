//! What tests of `tg` (tg-wrapper) share: its stand-in engines and the
//! environment a test must not pass on to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{OpenBao, Postgres, write_executable};

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

/// A stand-in engine (python) for Tier-0 runs, whose state tg decrypts,
/// hands over with `-state=` and encrypts again. The destroy brake's
/// `plan -out=F` writes F and `show -json` shows no change; `apply`
/// writes its pid to `$STUB_PIDFILE` (when set), sleeps `$STUB_SLEEP`
/// seconds (default 0), runs `$STUB_HOOK` in a shell (when set), then
/// appends `$TAG` to the list in the state's `applies` output, so a test
/// reads from the state which runs applied, in which order.
pub const TIER0_STUB_ENGINE: &str = r#"#!/usr/bin/env python3
import json, os, subprocess, sys, time
out = [a[len("-out="):] for a in sys.argv if a.startswith("-out=")]
if sys.argv[1:2] == ["plan"] and out:
    open(out[0], "w").close()
    sys.exit(0)
if sys.argv[1:2] == ["show"]:
    print('{"format_version":"1.2","resource_changes":[]}')
    sys.exit(0)
if "apply" not in sys.argv[1:2]:
    sys.exit(0)
if os.environ.get("STUB_PIDFILE"):
    with open(os.environ["STUB_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
st = next(a[len("-state="):] for a in sys.argv if a.startswith("-state="))
applies = []
if os.path.exists(st) and os.path.getsize(st) > 0:
    applies = json.load(open(st))["outputs"]["applies"]["value"]
time.sleep(float(os.environ.get("STUB_SLEEP", "0")))
if os.environ.get("STUB_HOOK"):
    subprocess.run(os.environ["STUB_HOOK"], shell=True, check=True)
applies.append(os.environ["TAG"])
state = {"version": 4, "serial": len(applies), "lineage": "l",
         "outputs": {"applies": {"value": applies, "type": ["list", "string"]}},
         "resources": []}
with open(st, "w") as f:
    json.dump(state, f)
"#;

/// The `.sops.yaml` of an infra repo whose Tier-0 state (under `state/`)
/// is encrypted to the age `recipient`.
pub fn sops_config(recipient: &str) -> String {
    format!("creation_rules:\n  - path_regex: ^state/.*\n    age: {recipient}\n")
}

/// `tg` (the binary at `tg`) run in `dir` with the stand-in engine
/// `engine`, a placeholder Tier-1 connection string, no retry delay,
/// `home` as HOME, and neither [`AMBIENT_ENV`] nor a Vault address or
/// token from where the tests run.
pub fn stub_tg(tg: &str, dir: &Path, engine: &Path, home: &Path) -> Command {
    let mut cmd = Command::new(tg);
    cmd.current_dir(dir)
        .env("TG_ENGINE", engine)
        .env("PG_CONN_STR", "postgres://stub")
        .env("TG_CI_RETRY_DELAY", "0")
        .env("HOME", home)
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN");
    without_ambient_env(&mut cmd);
    cmd
}

/// The credentials `tg doctor` would otherwise pick up from where the tests
/// run: Vault (token, address, Kubernetes login), the Tier-1 connection
/// string, the SOPS age key.
pub const DOCTOR_CREDENTIAL_ENV: &[&str] = &[
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_K8S_ROLE",
    "VAULT_K8S_JWT_PATH",
    "VAULT_K8S_MOUNT",
    "PG_CONN_STR",
    "SOPS_AGE_KEY_FILE",
    "SOPS_AGE_KEY",
];

/// Runs `tg doctor` (the binary at `tg`) in `dir` with `dir` as HOME, with
/// exactly the credentials in `env`: none of [`DOCTOR_CREDENTIAL_ENV`] nor
/// [`AMBIENT_ENV`] leaks in from where the tests run.
pub fn doctor(tg: &str, dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(tg);
    cmd.arg("doctor").current_dir(dir).env("HOME", dir);
    for k in DOCTOR_CREDENTIAL_ENV {
        cmd.env_remove(k);
    }
    without_ambient_env(&mut cmd);
    cmd.envs(env.iter().copied());
    cmd.output().expect("run tg doctor")
}

/// An infra repo with no stacks and no Tier-0 list, for `tg doctor` tests
/// of one check: every other check passes or skips in it.
pub fn doctor_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("stacks")).expect("create stacks/");
    std::fs::write(
        dir.path().join("terragrunt.hcl"),
        "locals { tier0_stacks = [] }\n",
    )
    .expect("write terragrunt.hcl");
    dir
}

/// The `pg lock` line of `tg doctor`'s output, or a panic showing it all.
pub fn pg_lock_line(doctor_stdout: &str) -> String {
    doctor_stdout
        .lines()
        .find(|l| l.contains(" pg lock: "))
        .unwrap_or_else(|| panic!("no pg lock line:\n{doctor_stdout}"))
        .to_string()
}

/// Variables a CI runner or a developer's shell may hold that change what
/// tg does (the forge, the pushed range and message, retries, lock waits,
/// the progress display, libpq's TLS defaults that the state-database probe
/// honours). A test sets the ones it means; the rest must not leak in from
/// where the tests happen to run.
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
    "PGSSLMODE",
    "PGSSLROOTCERT",
];

/// Removes [`AMBIENT_ENV`] from `cmd`'s environment; call it before
/// setting the test's own values.
pub fn without_ambient_env(cmd: &mut Command) -> &mut Command {
    for k in AMBIENT_ENV {
        cmd.env_remove(k);
    }
    cmd
}

/// What a Tier-1 run reads, on `pg`: the `terraform_state` role and
/// database, and a new OpenBao whose database engine manages that role's
/// password as the static role `pg-terraform-state`. OpenBao itself logs in
/// to `pg` with `sslmode` (`disable`, or `require` for a server that takes
/// only TLS).
pub fn tier1_services(pg: &Postgres, sslmode: &str) -> OpenBao {
    pg.psql(
        "postgres",
        "CREATE ROLE terraform_state LOGIN PASSWORD 'initial-pw'",
    );
    pg.psql(
        "postgres",
        "CREATE DATABASE terraform_state OWNER terraform_state",
    );
    let bao = OpenBao::start();
    bao.bao(&["secrets", "enable", "database"]);
    let conn = format!(
        "postgresql://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/postgres?sslmode={sslmode}",
        pg.port()
    );
    bao.bao(&[
        "write",
        "database/config/pg",
        "plugin_name=postgresql-database-plugin",
        &format!("connection_url={conn}"),
        "username=postgres",
        &format!("password={}", crate::PG_SUPERUSER_PASSWORD),
        "allowed_roles=*",
    ]);
    bao.bao(&[
        "write",
        "database/static-roles/pg-terraform-state",
        "db_name=pg",
        "username=terraform_state",
        "rotation_period=86400",
    ]);
    bao
}
