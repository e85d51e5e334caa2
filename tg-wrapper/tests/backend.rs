//! State only where its tier says (issue 20): with real terraform and a
//! real PostgreSQL, a Tier-1 stack without a `pg` backend, two stacks
//! sharing one schema and a stray plaintext `terraform.tfstate` are each
//! refused with the cause and the fix, and nothing is applied; the same
//! refusals fail the stack in `tg ci apply`, and `tg doctor` prints every
//! stack's tier, backend and schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testsupport::{
    Postgres, output_text, require_bin, run_ok, tg::without_ambient_env, write_file,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, rel: &str, body: &str) {
        write_file(&self.root(), rel, body);
    }

    /// A stack whose apply leaves `<tmp>/<name>.applied` behind (a
    /// local-exec), so "nothing applied" is observable.
    fn stack(&self, name: &str, backend: &str) {
        let marker = self.dir.path().join(format!("{name}.applied"));
        self.write(
            &format!("stacks/{name}/main.tf"),
            &format!(
                "terraform {{\n{backend}\n}}\nresource \"terraform_data\" \"x\" {{\n  input = \"{name}-state\"\n  provisioner \"local-exec\" {{\n    command = \"touch {}\"\n  }}\n}}\n",
                marker.display()
            ),
        );
    }

    fn applied(&self, name: &str) -> bool {
        self.dir.path().join(format!("{name}.applied")).exists()
    }

    fn commit(&self) {
        let git = |args: &[&str]| run_ok(Command::new("git").args(args).current_dir(self.root()));
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "stacks"]);
    }

    fn tg(&self, pg: &Postgres, args: &[&str]) -> Output {
        let mut cmd = Command::new(TG);
        cmd.args(args)
            .current_dir(self.root())
            .env("TG_ENGINE", "terraform")
            .env("PG_CONN_STR", pg.superuser_url("terraform_state"))
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("HOME", self.dir.path())
            .env("TG_CI_RETRY_DELAY", "0")
            .env_remove("VAULT_ADDR")
            .env_remove("TF_DATA_DIR");
        without_ambient_env(&mut cmd).output().unwrap()
    }
}

fn pg_backend(schema: &str) -> String {
    format!("  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}")
}

fn fixture() -> Repo {
    require_bin("terraform");
    let r = Repo {
        dir: tempfile::tempdir().unwrap(),
    };
    r.write(
        "terragrunt.hcl",
        "locals {\n  tier0_stacks = [\"infra\"]\n}\n",
    );
    r.write(".gitignore", ".terraform/\n.terraform.lock.hcl\n");
    r.write(
        "stacks/infra/main.tf",
        "# Tier-0: state in git, untouched\n",
    );
    // The forward-auth: Tier-1 with no backend block at all.
    r.stack("nobackend", "");
    // Two stacks on one schema (PostgreSQL folds unquoted names).
    r.stack("a", &pg_backend("shared"));
    r.stack("b", &pg_backend("SHARED"));
    r.stack("good", &pg_backend("good"));
    run_ok(
        Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .current_dir(r.root()),
    );
    for (k, v) in [("user.email", "t@example.invalid"), ("user.name", "t")] {
        run_ok(
            Command::new("git")
                .args(["config", k, v])
                .current_dir(r.root()),
        );
    }
    r.commit();
    r
}

fn rows(pg: &Postgres, schema: &str) -> String {
    pg.psql(
        "terraform_state",
        &format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = 'states'"
        ),
    )
    .trim()
    .to_string()
}

#[test]
fn state_in_the_wrong_place_is_refused_with_the_cause_and_the_fix() {
    let pg = Postgres::start();
    pg.create_db("terraform_state");
    let r = fixture();

    // No backend: refused before terraform runs; no plaintext state appears.
    let out = r.tg(&pg, &["apply", "--stack", "nobackend", "--non-interactive"]);
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(
            "refusing `apply` on stacks/nobackend: the Tier-1 stack nobackend declares no backend"
        ) && t.contains("plaintext terraform.tfstate")
            && t.contains("backend \"pg\" {")
            && t.contains("schema_name = \"nobackend\"")
            && t.contains("Nothing was run."),
        "{t}"
    );
    assert!(!r.applied("nobackend"), "nothing applied");
    assert!(!r.root().join("stacks/nobackend/terraform.tfstate").exists());

    // Two stacks, one schema: each is refused, naming the other.
    for (s, other) in [("a", "b"), ("b", "a")] {
        let out = r.tg(&pg, &["apply", "--stack", s, "--non-interactive"]);
        let t = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(
            t.contains("shares the schema")
                && t.contains(&format!("with {other} (stacks/{other}/main.tf)"))
                && t.contains("give each stack its own schema_name"),
            "{t}"
        );
        assert!(!r.applied(s), "{s}: nothing applied");
    }
    assert_eq!(rows(&pg, "shared"), "0", "no schema was even created");

    // The correct stack applies: its state is in its own schema.
    let out = r.tg(&pg, &["init", "--stack", "good", "-input=false"]);
    assert!(out.status.success(), "{}", output_text(&out));
    let out = r.tg(&pg, &["apply", "--stack", "good", "--non-interactive"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(r.applied("good"));
    assert_eq!(
        pg.psql(
            "terraform_state",
            "SELECT count(*) FROM good.states WHERE data LIKE '%good-state%'"
        )
        .trim(),
        "1"
    );

    // A stray plaintext state file (and its backup) beside it: refused,
    // even for a read.
    for stray in ["terraform.tfstate", "terraform.tfstate.backup"] {
        let p = r.root().join("stacks/good").join(stray);
        std::fs::write(&p, "{\"version\": 4, \"resources\": []}").unwrap();
        let out = r.tg(&pg, &["plan", "--stack", "good"]);
        let t = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{t}");
        assert!(
            t.contains(&format!(
                "plaintext state in the working tree: stacks/good/{stray}"
            )) && t.contains("-migrate-state")
                && t.contains("delete it"),
            "{t}"
        );
        std::fs::remove_file(&p).unwrap();
    }
    // A dangling symlink would be written through: refused as well.
    std::os::unix::fs::symlink(
        r.dir.path().join("elsewhere.tfstate"),
        r.root().join("stacks/good/terraform.tfstate"),
    )
    .unwrap();
    let out = r.tg(&pg, &["output", "--stack", "good"]);
    assert!(
        output_text(&out)
            .contains("plaintext state in the working tree: stacks/good/terraform.tfstate"),
        "{}",
        output_text(&out)
    );
    std::fs::remove_file(r.root().join("stacks/good/terraform.tfstate")).unwrap();
    let out = r.tg(&pg, &["plan", "--stack", "good"]);
    assert!(out.status.success(), "{}", output_text(&out));

    // tg doctor: every stack's tier, backend and schema.
    let t = output_text(&r.tg(&pg, &["doctor"]));
    for line in [
        "PASS backend infra: Tier-0, SOPS-encrypted state in git (state/stacks/infra/terraform.tfstate)",
        "PASS backend good: Tier-1, pg, schema good (stacks/good/main.tf)",
        "FAIL backend nobackend: Tier-1, the Tier-1 stack nobackend declares no backend",
        "FAIL backend a: Tier-1, the Tier-1 stack a (stacks/a/main.tf) shares the schema shared with b",
    ] {
        assert!(t.contains(line), "missing {line:?}:\n{t}");
    }
}

#[test]
fn ci_apply_fails_the_misplaced_stacks_and_applies_the_rest() {
    let pg = Postgres::start();
    pg.create_db("terraform_state");
    let r = fixture();
    let out = r.tg(
        &pg,
        &[
            "ci",
            "apply",
            "--all",
            "--json-report",
            r.dir.path().join("report.json").to_str().unwrap(),
        ],
    );
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for s in ["nobackend", "a", "b"] {
        assert!(t.contains(&format!("[{s}] FAILED")), "{s}:\n{t}");
        assert!(!r.applied(s), "{s} applied:\n{t}");
    }
    assert!(t.contains("[good] OK"), "{t}");
    assert!(r.applied("good"));
    assert!(t.contains("declares no backend"), "{t}");
    assert!(
        !Path::new(&r.root().join("stacks/nobackend/terraform.tfstate")).exists(),
        "{t}"
    );
}

/// The printed fix works: state a stack kept as a plaintext
/// `terraform.tfstate` (applied before it had a backend) moves into its
/// own schema with `tg init -migrate-state`, and `.terraform/` set up for
/// another schema is refused until re-initialised.
#[test]
fn the_fix_moves_plaintext_state_into_the_schema() {
    let pg = Postgres::start();
    pg.create_db("terraform_state");
    let r = fixture();
    // Before tg's check: applied with terraform itself, local backend.
    let dir = r.root().join("stacks/nobackend");
    let tf = |args: &[&str]| {
        run_ok(
            Command::new("terraform")
                .args(args)
                .current_dir(&dir)
                .env("TF_CLI_CONFIG_FILE", "/dev/null"),
        )
    };
    tf(&["init", "-input=false"]);
    tf(&["apply", "-auto-approve", "-input=false"]);
    assert!(dir.join("terraform.tfstate").is_file());
    std::fs::remove_file(r.dir.path().join("nobackend.applied")).unwrap();
    // The fix the refusal printed: a backend of its own, committed.
    r.stack("nobackend", &pg_backend("nobackend"));
    r.commit();
    let out = r.tg(&pg, &["plan", "--stack", "nobackend"]);
    assert!(
        output_text(&out)
            .contains("plaintext state in the working tree: stacks/nobackend/terraform.tfstate"),
        "{}",
        output_text(&out)
    );
    let out = r.tg(
        &pg,
        &[
            "init",
            "--stack",
            "nobackend",
            "-migrate-state",
            "-force-copy",
            "-input=false",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        pg.psql(
            "terraform_state",
            "SELECT count(*) FROM nobackend.states WHERE data LIKE '%nobackend-state%'"
        )
        .trim(),
        "1",
        "the state is in the schema"
    );
    for f in ["terraform.tfstate", "terraform.tfstate.backup"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let out = r.tg(&pg, &["plan", "--stack", "nobackend", "-detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the migrated state knows the resource: no changes\n{}",
        output_text(&out)
    );
    assert!(!r.applied("nobackend"));

    // The configuration moves to another schema; .terraform still points
    // at the old one: refused until `init -migrate-state`.
    r.stack("nobackend", &pg_backend("nobackend_v2"));
    r.commit();
    let out = r.tg(&pg, &["plan", "--stack", "nobackend"]);
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("was initialised for the pg backend (schema nobackend), but the configuration says pg, schema nobackend_v2"),
        "{t}"
    );
}
