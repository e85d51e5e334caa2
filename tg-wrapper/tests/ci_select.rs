//! Which stacks `tg ci apply` selects, and why (`tg ci plan-set`); the
//! `--since last-success` record on a bare git repo standing in for the
//! forge; `init` only when `.terraform` is not current.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testsupport::{
    commit_all, git, output_text, run_ok,
    tg::{stub_engine, stub_tg},
    write_file,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

struct Infra {
    dir: tempfile::TempDir,
}

impl Infra {
    /// An empty infra repo (root terragrunt.hcl, `.gitignore`), committed.
    fn new() -> Infra {
        let i = Infra {
            dir: tempfile::tempdir().unwrap(),
        };
        i.write(
            "terragrunt.hcl",
            "locals {\n  tier0_stacks = [\"vault\"]\n}\n",
        );
        i.write(".gitignore", ".terraform/\n");
        std::fs::create_dir_all(i.root().join("stacks")).unwrap();
        git(&i.root(), &["init", "-q", "-b", "main"]);
        git(&i.root(), &["config", "user.email", "ci@example.invalid"]);
        git(&i.root(), &["config", "user.name", "ci"]);
        i.commit("init");
        i
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, rel: &str, text: &str) {
        write_file(&self.root(), rel, text);
    }

    fn append(&self, rel: &str, text: &str) {
        let p = self.root().join(rel);
        let old = std::fs::read_to_string(&p).unwrap_or_default();
        self.write(rel, &(old + text));
    }

    fn commit(&self, msg: &str) -> String {
        commit_all(&self.root(), msg)
    }

    fn tg_in(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        stub_tg(TG, dir, &self.stub(), self.dir.path())
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    fn tg(&self, args: &[&str]) -> Output {
        self.tg_in(&self.root(), args, &[])
    }

    /// Stub engine: answers the destroy brake's `plan -out=` / `show -json`
    /// with a plan without changes (not logged); logs `<stack> <verb>` to `engine.log`; an apply fails
    /// while `<stack>.fail` exists; `init` creates `.terraform`.
    fn stub(&self) -> PathBuf {
        let d = self.dir.path();
        let path = d.join("engine");
        if !path.exists() {
            stub_engine(
                &path,
                &format!(
                    "s=$(basename \"$PWD\"); d='{}'\necho \"$s $1\" >> \"$d/engine.log\"\n[ \"$1\" = init ] && mkdir -p .terraform\n[ -e \"$d/$s.fail\" ] && {{ echo 'Error: Missing required argument' >&2; exit 1; }}\nexit 0\n",
                    d.display()
                ),
            );
        }
        path
    }

    /// The engine calls since the last call, as `<stack> <verb>` lines.
    fn engine_calls(&self) -> Vec<String> {
        let log = self.dir.path().join("engine.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_string).collect()
    }
}

/// The stack names `tg ci plan-set` printed (the unindented lines).
fn plan_set(i: &Infra, base: &str, head: &str) -> (Vec<String>, String) {
    let out = i.tg(&["ci", "plan-set", "--base", base, "--head", head]);
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    let stacks = t
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty() && *l != "No stack selected.")
        .map(str::to_string)
        .collect();
    (stacks, t)
}

/// The fixture infra repo of the issue: nested stack modules, a module
/// used by another module, terragrunt includes of a root file, a
/// `dependency`, `read_terragrunt_config`, a terragrunt `terraform {
/// source }`, a file read outside the stack, and unrelated files.
fn fixture() -> Infra {
    let i = Infra::new();
    i.write("README.md", "# infra\n");
    i.write("docs/guide.md", "# guide\n");
    i.write("root.hcl", "remote_state {\n  backend = \"local\"\n}\n");
    i.write("common.hcl", "locals {\n  region = \"eu\"\n}\n");
    i.write("shared/cfg.yaml", "a: 1\n");
    i.write("modules/net/main.tf", "variable \"cidr\" {}\n");
    i.write(
        "modules/app/main.tf",
        "module \"net\" {\n  source = \"../net\"\n  cidr   = \"10.0.0.0/8\"\n}\n",
    );
    i.write(
        "modules/vpc/main.tf",
        "resource \"terraform_data\" \"v\" {}\n",
    );
    i.write("modules/vpc/templates/user.tpl", "hello\n");
    i.write("modules/unused/main.tf", "# nobody calls this\n");
    // web: a module that uses another module, and the root include.
    i.write(
        "stacks/web/terragrunt.hcl",
        "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
    );
    i.write(
        "stacks/web/main.tf",
        "terraform {\n  backend \"pg\" {\n    schema_name = \"web\"\n  }\n}\nmodule \"app\" {\n  source = \"../../modules/app\"\n}\n",
    );
    // api: include, read_terragrunt_config, and a dependency on db.
    i.write(
        "stacks/api/terragrunt.hcl",
        "include \"root\" {\n  path = \"${get_terragrunt_dir()}/../../root.hcl\"\n}\nlocals {\n  common = read_terragrunt_config(find_in_parent_folders(\"common.hcl\"))\n}\ndependency \"db\" {\n  config_path = \"../db\"\n}\n",
    );
    i.write(
        "stacks/db/main.tf",
        "resource \"terraform_data\" \"db\" {}\n",
    );
    i.write("stacks/db/README.md", "# db\n");
    // nested: the stack's own module calls a shared one.
    i.write(
        "stacks/nested/main.tf",
        "module \"x\" {\n  source = \"./modules/x\"\n}\n",
    );
    i.write(
        "stacks/nested/modules/x/main.tf",
        "module \"net\" {\n  source = \"../../../../modules/net\"\n  cidr   = \"10.1.0.0/16\"\n}\n",
    );
    // tgsrc: terraform { source } with the // sub-folder notation.
    i.write(
        "stacks/tgsrc/terragrunt.hcl",
        "terraform {\n  source = \"${get_terragrunt_dir()}/../../modules//vpc\"\n}\n",
    );
    // files: reads a file outside its folder.
    i.write(
        "stacks/files/main.tf",
        "locals {\n  cfg = yamldecode(file(\"${path.module}/../../shared/cfg.yaml\"))\n}\n",
    );
    i.write(
        "stacks/lonely/main.tf",
        "resource \"terraform_data\" \"l\" {}\n",
    );
    i.commit("fixture");
    i
}

#[test]
fn each_changed_file_selects_exactly_the_stacks_that_read_it() {
    let i = fixture();
    let all = ["api", "db", "files", "lonely", "nested", "tgsrc", "web"];
    let table: &[(&str, &[&str])] = &[
        ("modules/net/main.tf", &["nested", "web"]),
        ("modules/app/main.tf", &["web"]),
        ("modules/vpc/main.tf", &["tgsrc"]),
        ("modules/vpc/templates/user.tpl", &["tgsrc"]),
        ("root.hcl", &["api", "web"]),
        ("common.hcl", &["api"]),
        ("stacks/db/main.tf", &["api", "db"]),
        ("stacks/nested/modules/x/main.tf", &["nested"]),
        ("shared/cfg.yaml", &["files"]),
        ("stacks/lonely/main.tf", &["lonely"]),
        ("terragrunt.hcl", &all),
        // Nothing selected:
        ("README.md", &[]),
        ("docs/guide.md", &[]),
        ("stacks/db/README.md", &[]),
        ("modules/unused/main.tf", &[]),
        ("docs/new-page.md", &[]),
    ];
    let mut base = git(&i.root(), &["rev-parse", "HEAD"]);
    for (path, want) in table {
        i.append(path, "\n# changed\n");
        let head = i.commit(&format!("change {path}"));
        let (got, out) = plan_set(&i, &base, &head);
        assert_eq!(got, *want, "a change to {path}:\n{out}");
        base = head;
    }
}

#[test]
fn plan_set_says_why_and_unresolvable_references_select_fail_safe() {
    let i = fixture();
    let base = git(&i.root(), &["rev-parse", "HEAD"]);
    i.append("modules/net/main.tf", "# changed\n");
    let head = i.commit("net");
    let (_, out) = plan_set(&i, &base, &head);
    assert!(
        out.contains("module \"app\" in stacks/web/main.tf: ../../modules/app")
            && out.contains("module \"net\" in modules/app/main.tf: ../net")
            && out.contains("module \"net\" in stacks/nested/modules/x/main.tf"),
        "the chain from the stack to the changed module:\n{out}"
    );

    // A path only known at run time: selected by any change, with why.
    i.write(
        "stacks/opaque/main.tf",
        "variable \"key_path\" {}\nlocals {\n  key = file(var.key_path)\n}\n",
    );
    let base = i.commit("opaque");
    i.append("docs/guide.md", "more\n");
    let head = i.commit("docs");
    let (got, out) = plan_set(&i, &base, &head);
    assert_eq!(got, ["opaque"], "{out}");
    assert!(
        out.contains("cannot resolve")
            && out.contains("file() in stacks/opaque/main.tf")
            && out.contains("var.key_path"),
        "{out}"
    );
    // A non-literal module source, a terragrunt path from a local.
    i.write(
        "stacks/opaque/main.tf",
        "module \"m\" {\n  source = \"../${var.m}\"\n}\n",
    );
    i.write(
        "stacks/opaque2/terragrunt.hcl",
        "locals {\n  p = \"../db\"\n}\ndependency \"db\" {\n  config_path = local.p\n}\n",
    );
    let base = i.commit("opaque2");
    i.append("README.md", "x\n");
    let head = i.commit("readme");
    let (got, out) = plan_set(&i, &base, &head);
    assert_eq!(got, ["opaque", "opaque2"], "{out}");
    assert!(
        out.contains("source is not a literal string") && out.contains("config_path uses local.p"),
        "{out}"
    );
}

#[test]
fn stacks_and_exclude_for_humans() {
    let i = fixture();
    let out = i.tg(&["ci", "plan-set", "--stacks", "web,db", "--exclude", "db"]);
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("web\n    named with --stacks") && t.contains("db (excluded with --exclude)"),
        "{t}"
    );
    let out = i.tg(&["ci", "apply", "--stacks", "web,db", "--exclude", "db"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(i.engine_calls(), ["web init", "web apply"]);
    let out = i.tg(&["ci", "plan-set", "--stacks", "nope"]);
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("no stack \"nope\""),
        "{}",
        output_text(&out)
    );
}

#[test]
fn since_last_success_recovers_what_an_unfinished_run_left() {
    let i = Infra::new();
    for s in ["a", "b", "c"] {
        i.write(&format!("stacks/{s}/terragrunt.hcl"), "# stack\n");
    }
    let c1 = i.commit("stacks");
    // The forge: a bare repo; the CI checkout tracks it.
    let forge = i.dir.path().join("forge.git");
    run_ok(
        Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&forge),
    );
    git(
        &i.root(),
        &["remote", "add", "origin", forge.to_str().unwrap()],
    );
    git(&i.root(), &["push", "-q", "-u", "origin", "main"]);
    let forge_ref = || {
        Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", "refs/tg/last-success"])
            .current_dir(&forge)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap()
    };
    let since = ["ci", "apply", "--since", "last-success"];

    // First run: nothing recorded yet → every stack; success → recorded.
    let out = i.tg(&since);
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("no refs/tg/last-success yet: every stack"),
        "{t}"
    );
    assert_eq!(forge_ref(), c1, "{t}");
    i.engine_calls();

    // Run 2 changes a and b; a fails → nothing recorded.
    i.append("stacks/a/terragrunt.hcl", "# 2\n");
    i.append("stacks/b/terragrunt.hcl", "# 2\n");
    let c2 = i.commit("a and b");
    std::fs::write(i.dir.path().join("a.fail"), "").unwrap();
    let out = i.tg(&since);
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("not recording") && t.contains("not applied: a"),
        "{t}"
    );
    assert_eq!(forge_ref(), c1);
    i.engine_calls();

    // Run 3's own push touches only c, yet a and b are taken up again.
    std::fs::remove_file(i.dir.path().join("a.fail")).unwrap();
    i.append("stacks/c/terragrunt.hcl", "# 3\n");
    let c3 = i.commit("c");
    git(&i.root(), &["push", "-q", "origin", "main"]);
    let out = i.tg_in(
        &i.root(),
        &since,
        &[("CI_PREV_COMMIT_SHA", &c2), ("CI_COMMIT_SHA", &c3)],
    );
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(i.engine_calls(), ["a apply", "b apply", "c apply"], "{t}");
    assert_eq!(forge_ref(), c3);

    // A new pod (fresh clone) reads the record from the forge.
    let pod = i.dir.path().join("pod");
    run_ok(
        Command::new("git")
            .arg("clone")
            .arg("-q")
            .arg(&forge)
            .arg(&pod),
    );
    let out = i.tg_in(&pod, &["ci", "plan-set", "--since", "last-success"], &[]);
    let t = output_text(&out);
    assert!(
        t.contains(&format!("last success: {c3}")) && t.contains("No stack selected."),
        "{t}"
    );

    // An older run finishing last never moves the record back.
    let out = i.tg_in(
        &i.root(),
        &["ci", "apply", "--since", "last-success", "--head", &c2],
        &[],
    );
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("stays at"), "{t}");
    assert_eq!(forge_ref(), c3);
}

#[test]
fn init_runs_only_when_dot_terraform_is_not_current() {
    let i = Infra::new();
    i.write(
        "stacks/s/main.tf",
        "terraform {\n  required_version = \">= 1.5\"\n  backend \"pg\" {\n    schema_name = \"s\"\n  }\n}\nresource \"terraform_data\" \"x\" {}\n",
    );
    i.commit("s");
    // Each edit is committed first: CI applies commits (tg refuses
    // uncommitted changes to a stack's files).
    let run = |i: &Infra| {
        i.commit("edit");
        let out = i.tg(&["ci", "apply", "--all"]);
        assert!(out.status.success(), "{}", output_text(&out));
        i.engine_calls()
    };
    assert_eq!(run(&i), ["s init", "s apply"], "no .terraform yet");
    assert_eq!(run(&i), ["s apply"], "current: no init");
    i.append("stacks/s/main.tf", "resource \"terraform_data\" \"y\" {}\n");
    assert_eq!(run(&i), ["s apply"], "a resource needs no init");
    i.write("stacks/s/.terraform.lock.hcl", "# lock\n");
    assert_eq!(run(&i), ["s init", "s apply"], "the lock file changed");
    i.append(
        "stacks/s/main.tf",
        "module \"m\" {\n  source = \"./m\"\n}\n",
    );
    assert_eq!(run(&i), ["s init", "s apply"], "a module was added");
    i.write(
        "stacks/s/m/main.tf",
        "terraform {\n  required_version = \">= 1.6\"\n}\n",
    );
    assert_eq!(
        run(&i),
        ["s init", "s apply"],
        "a called module's terraform block changed"
    );
    // terragrunt inits by itself.
    let tg_stub = i.dir.path().join("terragrunt");
    std::fs::copy(i.stub(), &tg_stub).unwrap();
    std::fs::remove_dir_all(i.root().join("stacks/s/.terraform")).unwrap();
    let out = i.tg_in(
        &i.root(),
        &["ci", "apply", "--all"],
        &[("TG_ENGINE", tg_stub.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(i.engine_calls(), ["s apply"]);
}
