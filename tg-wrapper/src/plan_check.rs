//! The destroy brake: `tg apply` (and `tg destroy`, and so `tg ci apply`)
//! plans to a file, reads that plan (`show -json`), and applies exactly
//! that file. A plan that deletes or replaces anything is listed (address,
//! action) first; then
//!
//! - a resource matching a `protected` rule of `.tg.toml` is refused,
//!   whatever else allows it;
//! - attended (a terminal, no `--non-interactive` / `-auto-approve` /
//!   `-input=false`), the human types the stack name to go on;
//! - unattended (CI), each deletion must be allowed by a
//!   `Tg-Allow-Destroy: <stack> [<address glob>]` line in the commit
//!   message or an `allow` rule of `.tg.toml`; otherwise the run is refused
//!   with the list and how to allow it, and nothing is applied.
//!
//! Why: nothing else stops a CI apply whose plan deletes what a bad commit
//! dropped (the `--no-checkout` commit that removed almost every file,
//! seeds/003 lines 179-183). Applying the saved plan file also means what
//! runs is what was checked: terraform refuses a saved plan whose state
//! moved since ("Saved plan is stale").

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use serde::Deserialize;

use crate::args::{EngineKind, Invocation, engine_args};
use crate::engine::Engine;
use crate::error::TgError;

/// One `allow` / `protected` rule of `.tg.toml` `[destroy]`: each field a
/// glob (`*`, `?`), absent = any.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub stack: Option<String>,
    pub address: Option<String>,
    #[serde(rename = "type")]
    pub rtype: Option<String>,
}

impl Rule {
    fn matches(&self, stack: &str, d: &Destroy) -> bool {
        let m = |pat: &Option<String>, text: &str| pat.as_deref().is_none_or(|p| glob(p, text));
        m(&self.stack, stack) && m(&self.address, &d.address) && m(&self.rtype, &d.rtype)
    }

    fn describe(&self) -> String {
        let f = |k: &str, v: &Option<String>| v.as_ref().map(|v| format!("{k} = {v:?}"));
        [
            f("stack", &self.stack),
            f("address", &self.address),
            f("type", &self.rtype),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// `.tg.toml` `[destroy]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DestroyConfig {
    /// Deletions/replacements an unattended run may apply.
    pub allow: Vec<Rule>,
    /// Never deleted or replaced by tg, whatever allows it.
    pub protected: Vec<Rule>,
}

/// A resource the plan deletes or replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destroy {
    pub address: String,
    pub rtype: String,
    /// `delete` or `replace`.
    pub action: &'static str,
}

/// `*` any run of characters, `?` one; everything else literal (resource
/// addresses hold `[`, `"` and `.`, which must not be special).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The managed resources a plan (`show -json`) deletes or replaces,
/// deposed objects included. Fails closed on anything that is not a plan.
pub fn destructive(plan: &serde_json::Value) -> Result<Vec<Destroy>, String> {
    if plan.get("format_version").is_none() {
        return Err("the engine's `show -json` output is not a plan (no format_version)".into());
    }
    let mut out = Vec::new();
    let changes = match plan.get("resource_changes") {
        None | Some(serde_json::Value::Null) => return Ok(out),
        Some(c) => c
            .as_array()
            .ok_or("resource_changes is not a list in the plan")?,
    };
    for rc in changes {
        if rc["mode"].as_str() == Some("data") {
            continue;
        }
        let actions: Vec<&str> = rc["change"]["actions"]
            .as_array()
            .ok_or_else(|| format!("a resource change without actions: {rc}"))?
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        if !actions.contains(&"delete") {
            continue;
        }
        let address = rc["address"]
            .as_str()
            .ok_or("a resource change without an address")?;
        let address = match rc["deposed"].as_str() {
            Some(key) => format!("{address} (deposed {key})"),
            None => address.to_string(),
        };
        out.push(Destroy {
            address,
            rtype: rc["type"].as_str().unwrap_or("").to_string(),
            action: if actions.contains(&"create") {
                "replace"
            } else {
                "delete"
            },
        });
    }
    Ok(out)
}

/// Whether applying the plan changes anything (resources or outputs).
pub fn has_changes(plan: &serde_json::Value) -> bool {
    if let Some(a) = plan["applyable"].as_bool() {
        return a;
    }
    let busy = |actions: &serde_json::Value| {
        actions
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x != "no-op" && x != "read"))
    };
    plan["resource_changes"]
        .as_array()
        .is_some_and(|r| r.iter().any(|c| busy(&c["change"]["actions"])))
        || plan["output_changes"]
            .as_object()
            .is_some_and(|o| o.values().any(|c| busy(&c["actions"])))
}

/// `Tg-Allow-Destroy: <stack> [<address glob>]` lines of a commit message
/// (key case-insensitive, anywhere in the body): the stack must be named
/// exactly, so one commit cannot unlock deletions in stacks it never meant.
pub fn commit_allows(message: &str, stack: &str, d: &Destroy) -> bool {
    message.lines().any(|line| {
        let Some((key, value)) = line.split_once(':') else {
            return false;
        };
        if !key.trim().eq_ignore_ascii_case("tg-allow-destroy") {
            return false;
        }
        let mut parts = value.split_whitespace();
        parts.next() == Some(stack) && parts.next().is_none_or(|pat| glob(pat, &d.address))
    })
}

/// What the brake decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to hold back (no deletions, or every one allowed).
    Go,
    /// Attended run: the human must type the stack name.
    Confirm,
    /// Refused; the message lists what and how to allow it.
    Refuse(String),
}

/// The brake's decision for `stack`'s deletions.
pub fn judge(
    stack: &str,
    destroys: &[Destroy],
    cfg: &DestroyConfig,
    commit_message: &str,
    attended: bool,
) -> Verdict {
    if destroys.is_empty() {
        return Verdict::Go;
    }
    let protected: Vec<String> = destroys
        .iter()
        .filter_map(|d| {
            cfg.protected
                .iter()
                .find(|r| r.matches(stack, d))
                .map(|r| format!("{} ({}; protected: {})", d.address, d.action, r.describe()))
        })
        .collect();
    if !protected.is_empty() {
        return Verdict::Refuse(format!(
            "tg: destroy brake: refused: the plan for {stack} would delete or replace protected resources:\n{}\n  Protected resources are never deleted or replaced by tg, whatever allows it. If this is really wanted, remove the rule from .tg.toml [destroy] protected in a reviewed commit.\n  Nothing was applied.",
            protected
                .iter()
                .map(|p| format!("    {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if attended {
        return Verdict::Confirm;
    }
    let refused: Vec<&Destroy> = destroys
        .iter()
        .filter(|d| {
            !cfg.allow.iter().any(|r| r.matches(stack, d))
                && !commit_allows(commit_message, stack, d)
        })
        .collect();
    if refused.is_empty() {
        return Verdict::Go;
    }
    let first = &refused[0].address;
    Verdict::Refuse(format!(
        "tg: destroy brake: refused: {} deletion(s)/replacement(s) in {stack} are not allowed in an unattended run (CI):\n{}\n  To allow them, put in the commit message one line per stack (address glob optional):\n      Tg-Allow-Destroy: {stack} {first}\n  or in .tg.toml:\n      [[destroy.allow]]\n      stack = \"{stack}\"\n      address = \"{}\"\n  Nothing was applied.",
        refused.len(),
        refused
            .iter()
            .map(|d| format!("    {:<8} {}", d.action, d.address))
            .collect::<Vec<_>>()
            .join("\n"),
        first.replace('"', "\\\"")
    ))
}

/// Where a plan file lives: a private folder, in RAM when possible (a plan
/// holds the prior state's values), removed after the run
/// ([`crate::tier0::private_dir`]).
fn private_dir() -> Result<tempfile::TempDir, TgError> {
    crate::tier0::private_dir("tg-plan-", "the plan file")
}

/// Flags of `terraform apply` that take their value as the next argument.
const VALUE_FLAGS: [&str; 9] = [
    "-var",
    "-var-file",
    "-target",
    "-replace",
    "-state",
    "-state-out",
    "-backup",
    "-parallelism",
    "-lock-timeout",
];

/// Flags that still mean something when applying a saved plan.
fn for_saved_plan(arg: &str) -> bool {
    arg == "-no-color"
        || arg == "-compact-warnings"
        || arg == "--non-interactive"
        || arg.starts_with("-parallelism=")
        || arg.starts_with("-input=")
        || arg.starts_with("-lock=")
        || arg.starts_with("--terragrunt")
}

/// A plan file the user gave to `tg apply PLANFILE`.
fn given_plan(args: &[String]) -> Option<String> {
    let verb = args.iter().position(|a| !a.starts_with('-'))?;
    let mut it = args[verb + 1..].iter();
    while let Some(a) = it.next() {
        if a.starts_with('-') {
            if VALUE_FLAGS.contains(&a.as_str()) {
                it.next();
            }
            continue;
        }
        return Some(a.clone());
    }
    None
}

/// Where the run happens and what the engine needs around it.
pub struct Target<'a> {
    pub engine: &'a Engine,
    pub stack: &'a str,
    pub dir: &'a Path,
    pub env: &'a [(String, String)],
    /// Tier-0: the decrypted state (its folder also holds the plan file).
    pub state_file: Option<&'a Path>,
    pub lock_timeout: &'a str,
    pub destroy: &'a DestroyConfig,
    pub commit_message: &'a str,
}

/// How many times a plan of tg's own is made when terraform refuses to
/// apply it because the state moved since ("Saved plan is stale"). Each
/// wave of concurrent applies lets at least one through, so this many
/// rounds carries a burst of 8 concurrent applies of one stack (the
/// reliability soak's largest) without a refusal.
const PLAN_ROUNDS: u32 = 8;

/// What applying one plan file ended in.
enum Applied {
    /// The run is over, with this exit status.
    Exit(i32),
    /// Terraform refused the plan file: another apply changed the state
    /// between the plan and the apply. Nothing was applied.
    Stale(i32),
}

/// `tg apply` / `tg destroy` through the brake; returns the exit status.
///
/// For a Tier-1 stack the pg backend's lock is held per terraform command,
/// so another apply can land between tg's plan and its apply; terraform
/// then refuses the saved plan and applies nothing. A plan tg made itself
/// is then made again and goes through the brake again (the questions
/// too: what a human approved is not what the new plan holds), up to
/// [`PLAN_ROUNDS`] times. A plan file the user gave is never re-made.
pub fn apply(t: &Target, inv: &Invocation) -> Result<i32, TgError> {
    let _own_dir;
    let plan_dir = match t.state_file.and_then(Path::parent) {
        Some(d) => d.to_path_buf(),
        None => {
            let d = private_dir()?;
            let p = d.path().to_path_buf();
            _own_dir = d;
            p
        }
    };
    if let Some(p) = given_plan(&inv.args) {
        let p = t.dir.join(p);
        eprintln!("tg: checking the saved plan {}", p.display());
        return match judge_and_apply(t, inv, &p)? {
            Applied::Exit(code) | Applied::Stale(code) => Ok(code),
        };
    }
    let plan_file = plan_dir.join("tg.tfplan");
    let mut round = 1;
    loop {
        let status = t.engine.run(
            t.dir,
            &engine_args(
                &plan_invocation(inv, &plan_file),
                t.engine.kind,
                t.lock_timeout,
                t.state_file,
            ),
            t.env,
        )?;
        if !status.success() {
            return Ok(status.code().unwrap_or(1));
        }
        // Nothing applied yet: an interrupt from here to the apply
        // stops the run instead of being held for a cleanup.
        crate::signals::engine_paused();
        match judge_and_apply(t, inv, &plan_file)? {
            Applied::Exit(code) => return Ok(code),
            Applied::Stale(code) if round == PLAN_ROUNDS => {
                eprintln!(
                    "tg: the state of {} changed between plan and apply {PLAN_ROUNDS} times (other applies ran); nothing was applied by this run",
                    t.stack
                );
                return Ok(code);
            }
            Applied::Stale(_) => {
                round += 1;
                eprintln!(
                    "tg: the state of {} changed since this plan (another apply ran in between); nothing was applied; planning again ({round}/{PLAN_ROUNDS})",
                    t.stack
                );
            }
        }
    }
}

/// The `plan -out=FILE` run standing for the user's `apply` / `destroy`.
fn plan_invocation(inv: &Invocation, plan_file: &Path) -> Invocation {
    let mut args: Vec<String> = Vec::with_capacity(inv.args.len() + 2);
    for a in &inv.args {
        match a.as_str() {
            "apply" if args.iter().all(|x: &String| x.starts_with('-')) => args.push("plan".into()),
            "destroy" if args.iter().all(|x: &String| x.starts_with('-')) => {
                args.push("plan".into());
                args.push("-destroy".into());
            }
            "-auto-approve" | "--auto-approve" => {}
            _ => args.push(a.clone()),
        }
    }
    args.push(format!("-out={}", plan_file.display()));
    Invocation {
        args,
        ..inv.clone()
    }
}

/// Reads `plan_file`, runs the brake (and the approval) on it, and applies
/// exactly that file.
fn judge_and_apply(t: &Target, inv: &Invocation, plan_file: &Path) -> Result<Applied, TgError> {
    let plan = show_json(t, plan_file)?;
    let destroys = destructive(&plan).map_err(|e| {
        TgError::step(
            "read the plan (destroy brake)",
            format!("{e}; nothing was applied"),
        )
    })?;
    let attended = !inv.unattended() && std::io::stdin().is_terminal();
    if !destroys.is_empty() {
        eprintln!(
            "tg: destroy brake: the plan for {} deletes or replaces {} resource(s):",
            t.stack,
            destroys.len()
        );
        for d in &destroys {
            eprintln!("    {:<8} {}", d.action, d.address);
        }
    }
    match judge(t.stack, &destroys, t.destroy, t.commit_message, attended) {
        Verdict::Refuse(msg) => {
            eprintln!("{msg}");
            return Ok(Applied::Exit(1));
        }
        Verdict::Confirm => {
            let answer = ask(&format!(
                "tg: to apply these deletions, type the stack name ({}): ",
                t.stack
            ))?;
            if answer != t.stack {
                eprintln!(
                    "tg: destroy brake: not confirmed (typed {answer:?}); nothing was applied."
                );
                return Ok(Applied::Exit(1));
            }
        }
        Verdict::Go if !destroys.is_empty() => {
            eprintln!("tg: destroy brake: every deletion is allowed (commit message or .tg.toml)");
        }
        Verdict::Go => {
            if !inv.unattended() && has_changes(&plan) {
                let answer = ask(
                    "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
                )?;
                if answer != "yes" {
                    eprintln!("tg: apply cancelled; nothing was applied.");
                    return Ok(Applied::Exit(1));
                }
            }
        }
    }
    if plan["applyable"] == serde_json::Value::Bool(false) {
        // The engine's own verdict that applying changes nothing (no
        // resource, output or refresh change): its apply would be a no-op.
        eprintln!("tg: the plan has no changes: nothing to apply.");
        return Ok(Applied::Exit(0));
    }
    let mut args = vec!["apply".to_string()];
    args.extend(inv.args.iter().filter(|a| for_saved_plan(a)).cloned());
    args.push(plan_file.display().to_string());
    let apply = Invocation {
        args,
        ..inv.clone()
    };
    let (status, stderr) = t.engine.run_keeping_stderr(
        t.dir,
        &engine_args(&apply, t.engine.kind, t.lock_timeout, t.state_file),
        t.env,
    )?;
    let code = status.code().unwrap_or(1);
    if !status.success() && stderr.contains("Saved plan is stale") {
        return Ok(Applied::Stale(code));
    }
    Ok(Applied::Exit(code))
}

/// `<engine> show -json PLAN`, parsed.
fn show_json(t: &Target, plan_file: &Path) -> Result<serde_json::Value, TgError> {
    let step = "read the plan (`show -json`) for the destroy brake";
    let mut cmd = std::process::Command::new(&t.engine.program);
    cmd.arg("show");
    if t.engine.kind == EngineKind::Terragrunt {
        cmd.arg("--non-interactive");
    }
    cmd.arg("-json")
        .arg(plan_file)
        .current_dir(t.dir)
        .stdin(std::process::Stdio::null());
    for (k, v) in crate::engine::plugin_cache_env(t.dir)? {
        cmd.env(k, v);
    }
    for (k, v) in t.env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| TgError::step(step, format!("{}: {e}", t.engine.program.display())))?;
    if !out.status.success() {
        return Err(TgError::step(
            step,
            format!(
                "{}\nnothing was applied",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        TgError::step(
            step,
            format!("the engine's output is not JSON ({e}); nothing was applied"),
        )
    })
}

fn ask(prompt: &str) -> Result<String, TgError> {
    let mut err = std::io::stderr();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| TgError::step("read the confirmation", e))?;
    Ok(line.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(address: &str, rtype: &str, action: &'static str) -> Destroy {
        Destroy {
            address: address.into(),
            rtype: rtype.into(),
            action,
        }
    }

    #[test]
    fn globs_treat_address_punctuation_literally() {
        assert!(glob(
            "module.*.kubernetes_*",
            "module.a.kubernetes_job_v1.x"
        ));
        assert!(glob("x[\"a?\"]", "x[\"ab\"]"));
        assert!(!glob("x[\"a\"]", "x[\"b\"]"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "acbd"));
    }

    #[test]
    fn plan_actions() {
        let plan = serde_json::json!({"format_version": "1.2", "resource_changes": [
            {"address": "a.x", "mode": "managed", "type": "a", "change": {"actions": ["delete", "create"]}},
            {"address": "b.y", "mode": "managed", "type": "b", "change": {"actions": ["create", "delete"]}},
            {"address": "c.z", "mode": "managed", "type": "c", "change": {"actions": ["delete"]}},
            {"address": "c.z", "mode": "managed", "type": "c", "deposed": "00ab", "change": {"actions": ["delete"]}},
            {"address": "d.w", "mode": "managed", "type": "d", "change": {"actions": ["update"]}},
            {"address": "data.e.v", "mode": "data", "type": "e", "change": {"actions": ["read"]}},
            {"address": "f.u", "mode": "managed", "type": "f", "change": {"actions": ["forget"]}}
        ]});
        let got = destructive(&plan).unwrap();
        assert_eq!(
            got,
            vec![
                d("a.x", "a", "replace"),
                d("b.y", "b", "replace"),
                d("c.z", "c", "delete"),
                d("c.z (deposed 00ab)", "c", "delete"),
            ]
        );
        assert!(destructive(&serde_json::json!({"resource_changes": []})).is_err());
    }

    #[test]
    fn protected_beats_every_allowance_and_commit_lines_name_the_stack() {
        let cfg = DestroyConfig {
            allow: vec![Rule {
                stack: Some("web".into()),
                ..Default::default()
            }],
            protected: vec![Rule {
                rtype: Some("kubernetes_persistent_volume_claim*".into()),
                ..Default::default()
            }],
        };
        let pvc = d(
            "kubernetes_persistent_volume_claim_v1.data",
            "kubernetes_persistent_volume_claim_v1",
            "delete",
        );
        let job = d("kubernetes_job_v1.j", "kubernetes_job_v1", "replace");
        let msg = "fix\n\nTg-Allow-Destroy: web\n";
        assert!(
            matches!(judge("web", std::slice::from_ref(&pvc), &cfg, msg, true), Verdict::Refuse(m) if m.contains("protected"))
        );
        assert_eq!(
            judge("web", std::slice::from_ref(&job), &cfg, "", false),
            Verdict::Go
        );
        assert_eq!(
            judge("db", std::slice::from_ref(&job), &cfg, "", true),
            Verdict::Confirm
        );
        assert!(
            matches!(judge("db", std::slice::from_ref(&job), &cfg, msg, false), Verdict::Refuse(m) if m.contains("Tg-Allow-Destroy: db kubernetes_job_v1.j"))
        );
        assert_eq!(
            judge(
                "db",
                std::slice::from_ref(&job),
                &cfg,
                "tg-allow-destroy: db kubernetes_job_v1.*",
                false
            ),
            Verdict::Go
        );
        assert!(!commit_allows("Tg-Allow-Destroy: db other.*", "db", &job));
        assert!(!commit_allows("Tg-Allow-Destroy: dbx", "db", &job));
    }
}
