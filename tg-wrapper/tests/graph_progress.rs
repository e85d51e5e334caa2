//! Issue 20: `tg graph` (DOT rendered by Graphviz `dot`, Mermaid, and
//! `--changed BASE..HEAD` marking what `tg ci apply` would select), the
//! progress lines of `tg ci apply` over several stacks (with the ETA from
//! a previous JSON report), `tg --help` and `tg completions`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testsupport::{
    commit_all, git, output_text, require_bin, run_ok,
    tg::{stub_engine, stub_tg, without_ambient_env},
    write_file,
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Infra {
    dir: tempfile::TempDir,
}

impl Infra {
    fn new(tier0: &str) -> Infra {
        let i = Infra {
            dir: tempfile::tempdir().unwrap(),
        };
        i.write(
            "terragrunt.hcl",
            &format!("locals {{\n  tier0_stacks = [{tier0}]\n}}\n"),
        );
        i.write(".gitignore", ".terraform/\n");
        git(&i.root_created(), &["init", "-q", "-b", "main"]);
        git(&i.root(), &["config", "user.email", "t@example.invalid"]);
        git(&i.root(), &["config", "user.name", "t"]);
        i
    }

    fn root_created(&self) -> PathBuf {
        std::fs::create_dir_all(self.root().join("stacks")).unwrap();
        self.root()
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn write(&self, rel: &str, text: &str) {
        write_file(&self.root(), rel, text);
    }

    /// A Tier-1 stack in its own schema, plus `extra` terragrunt HCL.
    fn stack(&self, name: &str, terragrunt: &str) {
        self.write(
            &format!("stacks/{name}/backend.tf"),
            &format!("terraform {{\n  backend \"pg\" {{\n    schema_name = \"{name}\"\n  }}\n}}\n"),
        );
        self.write(&format!("stacks/{name}/terragrunt.hcl"), terragrunt);
    }

    fn commit(&self, msg: &str) -> String {
        commit_all(&self.root(), msg)
    }

    /// A stub engine (kind terraform) answering the destroy brake with an
    /// empty plan; an apply sleeps 0.3 s.
    fn stub(&self) -> PathBuf {
        stub_engine(
            &self.dir.path().join("engine"),
            "[ \"$1\" = init ] && mkdir -p .terraform\n[ \"$1\" = apply ] && sleep 0.3\nexit 0\n",
        )
    }

    fn tg(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        stub_tg(TG, &self.root(), &self.stub(), self.dir.path())
            .args(args)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }
}

/// Nested dependencies: web → api → db → net (terragrunt dependency /
/// dependencies, one of them through an included file), modules calling
/// modules, platform stacks.
fn nested() -> Infra {
    let i = Infra::new("\"core\"");
    i.write(
        ".tg.toml",
        "[ci]\nplatform_stacks = [\"core\", \"net\"]\nskip_stacks = []\n",
    );
    i.write(
        "root.hcl",
        "locals {\n  common = read_terragrunt_config(\"${get_parent_terragrunt_dir()}/common.hcl\")\n}\n",
    );
    i.write("common.hcl", "locals {\n  region = \"eu\"\n}\n");
    i.write("modules/net/main.tf", "variable \"cidr\" {}\n");
    i.write(
        "modules/app/main.tf",
        "module \"net\" {\n  source = \"../net\"\n  cidr   = \"10.0.0.0/8\"\n}\n",
    );
    i.write("stacks/core/main.tf", "# Tier-0\n");
    i.stack("net", "# platform\n");
    i.stack(
        "db",
        "dependency \"net\" {\n  config_path = \"../net\"\n}\n",
    );
    i.write("deps/api.hcl", "dependencies {\n  paths = [\"../db\"]\n}\n");
    i.stack(
        "api",
        "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\ninclude \"deps\" {\n  path = \"${get_repo_root()}/deps/api.hcl\"\n}\n",
    );
    i.stack(
        "web",
        "dependency \"api\" {\n  config_path = \"../api\"\n}\n",
    );
    i.write(
        "stacks/web/main.tf",
        "module \"app\" {\n  source = \"../../modules/app\"\n}\n",
    );
    i.commit("infra");
    i
}

fn render(dot: &str, name: &str, dir: &Path) -> String {
    let dot_bin = require_bin("dot");
    let src = dir.join(format!("{name}.dot"));
    std::fs::write(&src, dot).unwrap();
    let out = run_ok(Command::new(dot_bin).arg("-Tsvg").arg(&src));
    let svg = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        svg.contains("<svg") && svg.contains("</svg>"),
        "dot rendered no SVG for {name}"
    );
    svg
}

#[test]
fn graph_of_nested_dependencies_as_dot_and_mermaid() {
    let i = nested();
    let out = i.tg(&["graph"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let dot = stdout(&out);
    for edge in [
        // dependency chain web → api → db → net; api's comes from an include
        "\"stacks/web\" -> \"stacks/api\" [label=\"dependency \\\"api\\\"\"",
        "\"stacks/api\" -> \"stacks/db\" [label=\"dependencies\"",
        "\"stacks/db\" -> \"stacks/net\" [label=\"dependency \\\"net\\\"\"",
        // platform order: net after core; the apps after the platform
        "\"stacks/net\" -> \"stacks/core\" [label=\"after\", style=dashed]",
        "[ltail=cluster_apps, lhead=cluster_platform, style=dashed, label=\"after the platform stacks\"]",
        // modules calling modules, includes and their reads
        "\"stacks/web\" -> \"modules/app\" [label=\"module \\\"app\\\"\"",
        "\"modules/app\" -> \"modules/net\" [label=\"module \\\"net\\\"\"",
        "\"stacks/api\" -> \"root.hcl\" [label=\"include \\\"root\\\"\"",
        "\"stacks/api\" -> \"deps/api.hcl\" [label=\"include \\\"deps\\\"\"",
        "\"root.hcl\" -> \"common.hcl\" [label=\"read_terragrunt_config()\"",
    ] {
        assert!(dot.contains(edge), "missing {edge}:\n{dot}");
    }
    // A dependency's own reads are its edges, not the dependent's.
    assert!(!dot.contains("\"stacks/web\" -> \"stacks/db\""), "{dot}");
    assert!(!dot.contains("\"stacks/web\" -> \"root.hcl\""), "{dot}");
    assert!(
        dot.contains("label=\"core\\nTier-0 · state in git (SOPS)\"")
            && dot.contains("label=\"web\\nTier-1 · pg web\""),
        "{dot}"
    );
    let svg = render(&dot, "nested", i.dir.path());
    assert!(svg.contains("after the platform stacks"), "{svg}");

    let out = i.tg(&["graph", "--format", "mermaid"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let m = stdout(&out);
    assert!(
        m.starts_with("%% tg graph") && m.contains("\nflowchart LR\n"),
        "{m}"
    );
    assert!(
        m.contains("subgraph platform [\"platform stacks (applied first, in this order)\"]")
            && m.contains("apps -. after the platform stacks .-> platform")
            && m.contains("==>|\"dependency #quot;api#quot;\"|")
            && m.contains("-->|\"module #quot;net#quot;\"|"),
        "{m}"
    );
}

#[test]
fn graph_changed_marks_what_ci_would_select_and_why() {
    let i = nested();
    let base = git(&i.root(), &["rev-parse", "HEAD"]);
    i.write(
        "modules/net/main.tf",
        "variable \"cidr\" {\n  type = string\n}\n",
    );
    i.commit("net module");
    let out = i.tg(&["graph", "--changed", &format!("{base}..HEAD")], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let dot = stdout(&out);
    // Selected exactly as `tg ci plan-set` selects: web (the module chain)
    // and nothing else.
    let plan_set = stdout(&i.tg(&["ci", "plan-set", "--base", &base], &[]));
    assert!(plan_set.starts_with("web\n"), "{plan_set}");
    assert!(
        dot.contains("// selected web: modules/net/main.tf changed (the stack's own files → module \"app\" in stacks/web/main.tf: ../../modules/app → module \"net\" in modules/app/main.tf: ../net)"),
        "{dot}"
    );
    assert!(
        dot.contains("\"stacks/web\" [label=\"web\\nTier-1 · pg web\\n● selected\"")
            && dot.contains("fillcolor=\"#fecaca\""),
        "{dot}"
    );
    assert_eq!(dot.matches("● selected").count(), 1, "{dot}");
    render(&dot, "changed", i.dir.path());
    let m = stdout(&i.tg(&["graph", "--format", "mermaid", "--changed", &base], &[]));
    assert!(
        m.contains("%% selected web: modules/net/main.tf changed"),
        "{m}"
    );
    assert!(m.contains(" selected\n"), "{m}");
    // Hostile or broken ranges are refused.
    for bad in ["--upload-pack=x..HEAD", "nope..HEAD", "..HEAD"] {
        let out = i.tg(&["graph", &format!("--changed={bad}")], &[]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {}", output_text(&out));
    }
}

#[test]
fn graph_of_the_example_repo_renders() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let out = Command::new(TG)
        .arg("graph")
        .current_dir(&examples)
        .env("TG_ENGINE", "terraform")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let dot = stdout(&out);
    for s in [
        "\"stacks/bootstrap\" [label=\"bootstrap\\nTier-0 · state in git (SOPS)\"",
        "\"stacks/app-config\" [label=\"app-config\\nTier-1 · pg app_config\"",
        "\"stacks/forward-auth\" [label=\"forward-auth\\nTier-1 · pg forward_auth\"",
        "\"stacks/goldmane-egress\" [label=\"goldmane-egress\\nTier-1 · pg goldmane_egress\"",
        "\"stacks/registry-retention\" [label=\"registry-retention\\nTier-1 · pg registry_retention\"",
        "\"stacks/vault\" [label=\"vault\\nTier-0 · state in git (SOPS)\"",
        "\"stacks/vault\" -> \"stacks/bootstrap\" [label=\"after\", style=dashed]",
        "\"stacks/forward-auth\" -> \"terragrunt.hcl\" [label=\"include \\\"root\\\"\"",
    ] {
        assert!(dot.contains(s), "missing {s}:\n{dot}");
    }
    let dir = tempfile::tempdir().unwrap();
    render(&dot, "examples", dir.path());
    // docs/tg.md shows this picture: the committed SVG is this output's.
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/tg-graph-examples.dot"),
    )
    .unwrap();
    assert_eq!(
        committed, dot,
        "docs/tg-graph-examples.dot is stale: regenerate it and the SVG (docs/tg.md, tg graph)"
    );
}

/// The numbers of the `[done/total] ...` lines, in order.
fn progress_lines(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| l.starts_with('[') && l.contains("] running: "))
        .collect()
}

#[test]
fn progress_lines_over_several_stacks() {
    let i = Infra::new("");
    for s in ["a", "b", "c", "d", "e"] {
        i.stack(s, "# stack\n");
    }
    i.commit("stacks");
    let report = i.dir.path().join("report.json");
    let out = i.tg(
        &[
            "ci",
            "apply",
            "--all",
            "--jobs",
            "2",
            "--json-report",
            report.to_str().unwrap(),
        ],
        &[],
    );
    let t = stdout(&out);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        !t.contains('\r') && !t.contains('\x1b'),
        "plain lines in a log:\n{t}"
    );
    let lines = progress_lines(&t);
    assert_eq!(lines.len(), 5, "one line after each stack:\n{t}");
    for (n, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("[{}/5] running: ", n + 1)), "{l}");
        // This run's durations give an ETA from the first finished stack.
        assert!(l.contains(" | ETA ~"), "{l}");
    }
    let left: Vec<usize> = lines
        .iter()
        .map(|l| {
            l.split("| left: ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(left.windows(2).all(|w| w[0] >= w[1]), "{left:?}");
    assert_eq!(
        *lines.last().unwrap(),
        "[5/5] running: none | left: 0 | ETA ~0s"
    );
    // With --jobs 2, another stack is running when the first one ends.
    assert!(
        lines[0].contains("running: ") && !lines[0].contains("running: none"),
        "{t}"
    );
    // The report keeps each stack's duration (the stub sleeps 0.3 s).
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    for s in json["stacks"].as_array().unwrap() {
        assert!(s["duration"].as_f64().unwrap() >= 0.3, "{s}");
    }

    // A previous report where every stack took ten minutes: the ETA
    // starts from those durations, not from this run's.
    let previous = i.dir.path().join("previous.json");
    let stacks: Vec<serde_json::Value> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|s| {
            serde_json::json!({
                "stack": s, "outcome": "OK", "attempts": 1, "duration": 600.0, "detail": ""
            })
        })
        .collect();
    std::fs::write(
        &previous,
        serde_json::json!({ "stacks": stacks }).to_string(),
    )
    .unwrap();
    let out = i.tg(
        &[
            "ci",
            "apply",
            "--all",
            "--eta-from",
            previous.to_str().unwrap(),
        ],
        &[],
    );
    let t = stdout(&out);
    assert!(out.status.success(), "{}", output_text(&out));
    let lines = progress_lines(&t);
    // One job: after a, four stacks of ten minutes are left.
    assert_eq!(lines[0], "[1/5] running: none | left: 4 | ETA ~40m", "{t}");
    assert_eq!(lines[3], "[4/5] running: none | left: 1 | ETA ~10m", "{t}");

    // A missing previous report only loses the head start.
    let out = i.tg(
        &["ci", "apply", "--all", "--eta-from", "/nonexistent/r.json"],
        &[],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        stdout(&out).contains("[progress] --eta-from /nonexistent/r.json"),
        "{}",
        output_text(&out)
    );

    // On a terminal (forced here): one line redrawn in place.
    let out = i.tg(&["ci", "apply", "--all"], &[("TG_PROGRESS", "live")]);
    let t = stdout(&out);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        t.contains("\r\x1b[2K[5/5] running: none | left: 0 | ETA ~0s\n"),
        "{t:?}"
    );
    assert!(
        !t.lines()
            .any(|l| l.contains("] running: ") && !l.contains("\r\x1b[2K")),
        "every progress line is redrawn in place: {t:?}"
    );
}

#[test]
fn help_lists_the_engine_verbs_and_completions_generate() {
    let out = Command::new(TG).arg("--help").output().unwrap();
    let h = stdout(&out);
    assert!(out.status.success(), "{h}");
    for s in [
        "Engine verbs",
        "  plan  ",
        "apply, destroy",
        "-auto-approve only",
        "import, refresh",
        "state <sub>",
        "force-unlock <stack>",
        "Examples:",
        "tg plan --stack app-config",
        "tg ci apply --since last-success",
        "Environment:",
        "TG_ENGINE",
        "TG_LOCK_TIMEOUT",
        "PG_CONN_STR",
        "TG_PROGRESS",
        "graph",
        "completions",
    ] {
        assert!(h.contains(s), "--help lacks {s:?}:\n{h}");
    }
    for (shell, marker) in [
        ("bash", "complete -F _tg"),
        ("zsh", "#compdef tg"),
        ("fish", "complete -c tg"),
    ] {
        let out = Command::new(TG)
            .args(["completions", shell])
            .output()
            .unwrap();
        let s = stdout(&out);
        assert!(out.status.success() && s.contains(marker), "{shell}:\n{s}");
        assert!(s.contains("graph") && s.contains("plan-set"), "{shell}");
    }
    // The bash script loads in bash.
    let script = stdout(
        &Command::new(TG)
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("{script}\ncomplete -p tg"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
}

/// On a real terminal (stdout a pty), without TG_PROGRESS: one live line.
#[test]
fn progress_is_one_live_line_on_a_terminal() {
    use std::io::Read;
    let i = Infra::new("");
    for s in ["a", "b", "c"] {
        i.stack(s, "# stack\n");
    }
    i.commit("stacks");
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = Command::new(TG);
    cmd.args(["ci", "apply", "--all"])
        .current_dir(i.root())
        .env("TG_ENGINE", i.stub())
        .env("PG_CONN_STR", "postgres://stub")
        .env("HOME", i.dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(slave.try_clone().unwrap())
        .stderr(std::process::Stdio::null());
    without_ambient_env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    // The parent's copies of the slave must go, or the master never ends.
    drop(cmd);
    drop(slave);
    let mut master = std::fs::File::from(pty.master);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Until the last writer closes the pty (EIO on Linux) or EOF.
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert!(child.wait().unwrap().success());
    let t = String::from_utf8_lossy(&out);
    // The pty turns \n into \r\n.
    assert!(
        t.contains("\r\x1b[2K[3/3] running: none | left: 0 | ETA ~0s\r\n"),
        "{t:?}"
    );
    assert!(t.contains("[a] OK") && t.contains("summary"), "{t:?}");
}
