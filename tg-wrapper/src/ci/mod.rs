//! `tg ci apply` and `tg ci drift`: the Woodpecker steps.
//!
//! Each stack runs as a child `tg apply --stack X --non-interactive` (or
//! `tg plan ... -detailed-exitcode`), so CI goes through exactly the local
//! wrapper and each stack's output is kept apart; the outcome is then
//! classified with the same table as `tg classify`. With the terraform or
//! tofu engine a stack whose `.terraform` is not current is initialised
//! first ([`init`]); a SIGINT/SIGTERM stops the run cleanly ([`interrupt`]).

pub mod changes;
pub mod closure;
pub mod init;
pub mod interrupt;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod since;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::classify::{Class, fix_advice};
use crate::config::Settings;
use crate::error::TgError;
use crate::repo::Repo;

pub use report::{Outcome, StackResult};

/// What a CI run does per stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Drift,
}

#[derive(Debug, Clone)]
pub struct CiOptions {
    pub mode: Mode,
    pub jobs: usize,
    pub attempts: u32,
    pub retry_delay: Duration,
    pub json_report: Option<std::path::PathBuf>,
    pub junit_report: Option<std::path::PathBuf>,
    /// Run `init` first where `.terraform` is not current (engines without
    /// terragrunt's auto-init).
    pub init: bool,
    /// On a run with nothing left unapplied: record this commit as the
    /// last success on this remote (`(remote, commit)`, [`since`]).
    pub record_success: Option<(String, String)>,
    /// A previous `--json-report` whose durations start the ETA ([`progress`]).
    pub eta_from: Option<std::path::PathBuf>,
}

/// The forge guard: `Some(message)` when this pipeline must not apply.
pub fn forge_guard(settings: &Settings) -> Option<String> {
    let url = format!(
        "{}{}",
        std::env::var("CI_REPO_URL").unwrap_or_default(),
        std::env::var("CI_FORGE_URL").unwrap_or_default()
    )
    .to_lowercase();
    if url.is_empty() {
        return None; // unknown forge: fail open, apply
    }
    if let Some(canonical) = &settings.ci.canonical_forge
        && url.contains(&canonical.to_lowercase())
    {
        return None;
    }
    settings.ci.mirror_forges.iter().find(|m| url.contains(&m.to_lowercase())).map(|m| {
        format!(
            "[forge-guard] {m} mirror push — apply runs only on the canonical forge{} (avoids double-apply + state-lock races). Skipping.",
            settings.ci.canonical_forge.as_ref().map(|c| format!(" ({c})")).unwrap_or_default()
        )
    })
}

/// `[ci skip]` / `[CI SKIP]` in the commit message.
pub fn ci_skip(message: &str) -> bool {
    message.contains("[ci skip]") || message.contains("[CI SKIP]")
}

/// Runs one stack through a child `tg`, retrying transient failures.
pub fn run_stack(
    tg: &Path,
    repo: &Repo,
    stack: &str,
    settings: &Settings,
    opts: &CiOptions,
    progress: &progress::Progress,
) -> StackResult {
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(sig) = interrupt::caught() {
            return StackResult::skipped(
                stack,
                format!("not started: tg ci was interrupted ({})", signal_name(sig)),
            );
        }
        let (code, output) = match prepare(tg, repo, stack, opts, progress) {
            Some(failed) => failed,
            None => run_child(tg, repo, &child_args(stack, opts.mode)),
        };
        if code != Some(0)
            && let Some(sig) = interrupt::caught()
        {
            return StackResult {
                stack: stack.to_string(),
                outcome: Outcome::Interrupted,
                attempts: attempt,
                duration: started.elapsed(),
                detail: format!(
                    "interrupted by {} (exit {})\n{}",
                    signal_name(sig),
                    code.map(|c| c.to_string())
                        .unwrap_or_else(|| "signal".into()),
                    last_lines(&output, 20)
                ),
                output,
            };
        }
        let drift = opts.mode == Mode::Drift && code == Some(2) && !only_check_block_reads(&output);
        if code == Some(0) || (opts.mode == Mode::Drift && code == Some(2)) {
            let tail = last_lines(&output, 3);
            let outcome = if drift { Outcome::Drift } else { Outcome::Ok };
            return StackResult {
                stack: stack.to_string(),
                outcome,
                attempts: attempt,
                duration: started.elapsed(),
                detail: tail,
                output,
            };
        }
        let (class, rule) = settings.classifier.classify(&output);
        match class {
            Class::Locked => {
                return StackResult {
                    stack: stack.to_string(),
                    outcome: Outcome::Skipped,
                    attempts: attempt,
                    duration: started.elapsed(),
                    detail: format!("locked by another session/run ({rule})"),
                    output,
                };
            }
            Class::Transient if attempt < opts.attempts => {
                progress.say_err(&format!(
                    "[{stack}] transient error ({rule}) (attempt {attempt}/{}) — retrying in {}s...",
                    opts.attempts,
                    opts.retry_delay.as_secs()
                ));
                std::thread::sleep(opts.retry_delay);
            }
            _ => {
                let mut detail = format!(
                    "exit {} ({class}: {rule})\n{}",
                    code.map(|c| c.to_string())
                        .unwrap_or_else(|| "signal".into()),
                    last_lines(&output, 50)
                );
                if let Some(advice) = fix_advice(&output, Some(stack)) {
                    detail.push('\n');
                    detail.push_str(&advice);
                }
                return StackResult {
                    stack: stack.to_string(),
                    outcome: Outcome::Failed,
                    attempts: attempt,
                    duration: started.elapsed(),
                    detail,
                    output,
                };
            }
        }
    }
}

/// `plan -detailed-exitcode` exits 2 whenever a `check` block has a nested
/// data source: Terraform always defers those reads to apply ("config will
/// be reloaded to verify a check block"), even when nothing would change.
/// Such a plan — no resource and no output changes — is not drift.
fn only_check_block_reads(output: &str) -> bool {
    output.contains("Plan: 0 to add, 0 to change, 0 to destroy.")
        && !output.contains("Changes to Outputs")
        && output.contains("will be read during apply")
        && output.matches("will be read during apply").count()
            == output.matches("to verify a check block").count()
}

fn signal_name(sig: i32) -> &'static str {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str())
        .unwrap_or("a signal")
}

/// `tg init` for a stack whose `.terraform` is not current; `Some` carries
/// a failed init's result (classified and retried like the run itself).
fn prepare(
    tg: &Path,
    repo: &Repo,
    stack: &str,
    opts: &CiOptions,
    progress: &progress::Progress,
) -> Option<(Option<i32>, String)> {
    if !opts.init {
        return None;
    }
    let dir = repo.root.join("stacks").join(stack);
    let why = init::needed(&repo.root, &dir)?;
    progress.say(&format!("[{stack}] init ({why})"));
    let (code, output) = run_child(
        tg,
        repo,
        &["init", "--stack", stack, "-input=false", "-no-color"],
    );
    if code == Some(0) {
        init::done(&repo.root, &dir);
        None
    } else {
        Some((code, format!("tg init failed:\n{output}")))
    }
}

fn child_args(stack: &str, mode: Mode) -> Vec<&str> {
    match mode {
        Mode::Apply => vec!["apply", "--stack", stack, "--non-interactive"],
        Mode::Drift => vec![
            "plan",
            "--stack",
            stack,
            "-detailed-exitcode",
            "-input=false",
            "-no-color",
        ],
    }
}

fn run_child(tg: &Path, repo: &Repo, args: &[&str]) -> (Option<i32>, String) {
    // stdout and stderr into one file keeps their interleaving.
    let Ok(mut file) = tempfile::tempfile() else {
        return (None, "cannot create a temp file for the output".into());
    };
    let (Ok(out), Ok(err)) = (file.try_clone(), file.try_clone()) else {
        return (None, "cannot capture output".into());
    };
    let status = interrupt::spawn(
        std::process::Command::new(tg)
            .args(args)
            .current_dir(&repo.root)
            // A Tier-0 lock another host holds is SKIPPED at once (its holder
            // applies the stack), as a contended Tier-1 lock is.
            .env("TG_LOCK_WAIT", "0")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err),
    )
    .and_then(|mut child| {
        let status = child.wait();
        interrupt::exited(&child);
        status
    });
    let mut text = String::new();
    use std::io::{Read, Seek};
    let _ = file.rewind();
    let _ = file.read_to_string(&mut text);
    match status {
        Ok(s) => (s.code(), text),
        Err(e) => (None, format!("{text}\ncannot run {}: {e}", tg.display())),
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The whole `tg ci apply` / `tg ci drift` step; returns the exit status.
pub fn run(
    repo: &Repo,
    settings: &Settings,
    opts: &CiOptions,
    stacks: Vec<String>,
) -> Result<i32, TgError> {
    let tg = std::env::current_exe().map_err(|e| TgError::step("find the tg executable", e))?;
    interrupt::install()?;
    let skip = &settings.ci.skip_stacks;
    let mut results: Vec<StackResult> = Vec::new();
    let mut to_run = Vec::new();
    for s in stacks {
        if skip.contains(&s) {
            let tier = if repo.tier0_stacks.contains(&s) {
                "Tier-0, "
            } else {
                ""
            };
            println!("[{s}] SKIPPED ({tier}human-applied; listed in skip_stacks)");
            results.push(StackResult::skipped(
                &s,
                format!("{tier}human-applied (skip_stacks)"),
            ));
        } else {
            to_run.push(s);
        }
    }
    let graph = schedule::Graph::build(repo, &to_run, &settings.ci.platform_stacks);
    let verb = if opts.mode == Mode::Apply {
        "apply"
    } else {
        "plan"
    };
    let previous = match &opts.eta_from {
        Some(p) => progress::previous_durations(p).unwrap_or_else(|e| {
            println!("[progress] --eta-from {e}: the ETA uses this run's durations only");
            Default::default()
        }),
        None => Default::default(),
    };
    let progress = progress::Progress::new(
        progress::Style::from_env(),
        opts.jobs,
        graph.order.clone(),
        previous,
    );
    let ran = schedule::run(
        &graph,
        opts.jobs.max(1),
        |stack| {
            progress.say(&format!("[{stack}] Starting {verb}..."));
            progress.started(stack);
            let r = run_stack(&tg, repo, stack, settings, opts, &progress);
            progress.say(&r.block());
            r
        },
        |r, ran| {
            if !ran {
                progress.say(&format!("[{}] SKIPPED ({})", r.stack, r.detail));
            }
            progress.finished(r);
        },
    );
    progress.finish();
    results.extend(ran);
    report::print_summary(&results, opts.mode);
    let caught = interrupt::caught();
    if let Some(p) = &opts.json_report {
        std::fs::write(p, report::json(&results))
            .map_err(|e| TgError::step(format!("write {}", p.display()), e))?;
    }
    if let Some(p) = &opts.junit_report {
        std::fs::write(p, report::junit(&results, opts.mode))
            .map_err(|e| TgError::step(format!("write {}", p.display()), e))?;
    }
    if let Some(sig) = caught {
        println!(
            "tg ci was interrupted by {}: the stacks not applied are taken up by the next `tg ci apply --since last-success`.",
            signal_name(sig)
        );
        return Ok(128 + sig);
    }
    if let Some((remote, head)) = &opts.record_success {
        record_success(repo, &results, remote, head);
    }
    let failed = results.iter().any(|r| r.outcome == Outcome::Failed);
    let drift = results.iter().any(|r| r.outcome == Outcome::Drift);
    Ok(if failed {
        1
    } else if drift {
        2
    } else {
        0
    })
}

/// Records `head` as the last success when every stack applied or was
/// skipped as human-applied (`skip_stacks`). A stack skipped for a held
/// lock or a failed dependency was not applied, so it blocks the record
/// just like a failure: the next `--since last-success` run retries it.
fn record_success(repo: &Repo, results: &[StackResult], remote: &str, head: &str) {
    let unapplied: Vec<&str> = results
        .iter()
        .filter(|r| match r.outcome {
            Outcome::Ok => false,
            Outcome::Skipped => !r.detail.contains("(skip_stacks)"),
            _ => true,
        })
        .map(|r| r.stack.as_str())
        .collect();
    if !unapplied.is_empty() {
        println!(
            "[since] not recording {head} as the last success: not applied: {}",
            unapplied.join(", ")
        );
        return;
    }
    match since::record(repo, remote, head) {
        Ok(msg) => println!("[since] {msg}"),
        Err(e) => eprintln!(
            "[since] warning: could not record the last success ({e}); the next --since last-success run re-applies this range"
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_block_reads_are_not_drift() {
        let deferred = "  # data.x.y will be read during apply\n  # (config will be reloaded to verify a check block)\nPlan: 0 to add, 0 to change, 0 to destroy.\n";
        assert!(super::only_check_block_reads(deferred));
        assert!(!super::only_check_block_reads(
            &deferred.replace("Plan: 0 to add", "Plan: 1 to add")
        ));
        let other_read = "  # data.a.b will be read during apply\n  # (depends on a resource or a module with changes pending)\nPlan: 0 to add, 0 to change, 0 to destroy.\n";
        assert!(!super::only_check_block_reads(other_read));
    }
}
