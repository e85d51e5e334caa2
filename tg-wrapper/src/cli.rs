//! The command line. Engine verbs (`tg plan`, `tg apply --non-interactive`,
//! ...) are forwarded through [`crate::run`]; tg's own subcommands sit
//! beside them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tg",
    version,
    about = "The Terragrunt/Terraform wrapper every apply goes through (docs/tg.md)",
    allow_external_subcommands = true
)]
pub struct Cli {
    /// Run for stacks/NAME from anywhere in the repo (also accepted after the verb).
    #[arg(long, global = true)]
    pub stack: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The CI steps (Woodpecker): apply changed stacks, nightly drift.
    Ci {
        #[command(subcommand)]
        step: CiStep,
    },
    /// Read a run's combined output on stdin; print locked, transient or fatal.
    Classify,
    /// Check the engine, repo config, Vault, the PG state lock and SOPS keys.
    Doctor,
    /// `providers lock`: every stack's lock file for every platform; other
    /// `providers` subcommands go to the engine.
    Providers {
        #[command(subcommand)]
        cmd: Option<ProvidersCmd>,
    },
    /// Any engine verb: plan, apply, destroy, refresh, import, output, state, init, validate, fmt, ...
    #[command(external_subcommand)]
    Engine(Vec<String>),
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCmd {
    /// Update every stack's .terraform.lock.hcl for the platforms in
    /// .tg.toml (default linux_amd64, darwin_arm64), in parallel.
    Lock(ProvidersLockArgs),
    /// `providers schema`, `providers mirror`, ...: run by the engine.
    #[command(external_subcommand)]
    Engine(Vec<String>),
}

#[derive(Debug, clap::Args)]
pub struct ProvidersLockArgs {
    /// Only these stacks (comma-separated; default every stack, or --stack).
    #[arg(long, value_delimiter = ',')]
    pub stacks: Vec<String>,
    /// A platform to lock for (repeatable; default .tg.toml [providers] platforms).
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Take packages from this filesystem mirror instead of the origin registries.
    #[arg(long)]
    pub fs_mirror: Option<String>,
    /// Take packages from this network mirror instead of the origin registries.
    #[arg(long)]
    pub net_mirror: Option<String>,
    /// Stacks locked at a time.
    #[arg(long, default_value_t = 4)]
    pub jobs: usize,
}

#[derive(Debug, Subcommand)]
pub enum CiStep {
    /// Apply the stacks changed by the pushed range (the whole apply step).
    Apply(Box<CiArgs>),
    /// `plan -detailed-exitcode` over every stack; exit 2 when any drifted.
    Drift(Box<CiArgs>),
    /// Print the stacks `tg ci apply` would select, and why; apply nothing.
    PlanSet(Box<CiArgs>),
}

#[derive(Debug, clap::Args)]
pub struct CiArgs {
    /// Stacks that do not depend on each other run in parallel, N at a time.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Attempts for transient failures (default: .tg.toml, else 3).
    #[arg(long, env = "TG_CI_ATTEMPTS")]
    pub attempts: Option<u32>,
    /// Seconds between attempts (default: .tg.toml, else 15).
    #[arg(long, env = "TG_CI_RETRY_DELAY")]
    pub retry_delay: Option<u64>,
    /// Start of the pushed range (default: $CI_PREV_COMMIT_SHA).
    #[arg(long, env = "CI_PREV_COMMIT_SHA")]
    pub base: Option<String>,
    /// Start the range here instead of --base: a commit, or `last-success`
    /// (the last commit whose CI apply left nothing unapplied, kept as
    /// refs/tg/last-success on --remote; recorded again after a full success).
    #[arg(long, value_name = "REV|last-success")]
    pub since: Option<String>,
    /// The forge remote holding refs/tg/last-success.
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// Exactly these stacks (comma-separated), instead of the changed ones.
    #[arg(long, value_delimiter = ',', conflicts_with = "all")]
    pub stacks: Vec<String>,
    /// Never these stacks (comma-separated), whatever selected them.
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// End of the pushed range (default: $CI_COMMIT_SHA, else HEAD).
    #[arg(long, env = "CI_COMMIT_SHA", default_value = "HEAD")]
    pub head: String,
    /// Every stack, not only the changed ones (drift always uses every stack).
    #[arg(long)]
    pub all: bool,
    /// Write a JSON report here.
    #[arg(long)]
    pub json_report: Option<std::path::PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit_report: Option<std::path::PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("tg: error: cannot read the current directory: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match cli.command {
        Command::Ci { step } => ci_step(step, &cwd),
        Command::Classify => classify_stdin(&cwd),
        Command::Doctor => crate::doctor::run(&cwd),
        Command::Providers {
            cmd: Some(ProvidersCmd::Lock(args)),
        } => providers_lock(args, cli.stack, &cwd),
        Command::Providers { cmd } => {
            let mut args = vec!["providers".to_string()];
            if let Some(ProvidersCmd::Engine(rest)) = cmd {
                args.extend(rest);
            }
            if let Some(s) = cli.stack {
                args.push("--stack".into());
                args.push(s);
            }
            crate::run::run(&args, &cwd)
        }
        Command::Engine(mut args) => {
            if let Some(s) = cli.stack {
                args.push("--stack".into());
                args.push(s);
            }
            crate::run::run(&args, &cwd)
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn providers_lock(args: ProvidersLockArgs, stack: Option<String>, cwd: &std::path::Path) -> i32 {
    let result = (|| -> Result<i32, crate::error::TgError> {
        let repo = crate::repo::Repo::find(cwd)?;
        let settings = crate::config::Settings::load(Some(&repo))?;
        let mut stacks = args.stacks;
        stacks.extend(stack);
        crate::providers_lock::run(
            &repo,
            &settings,
            &crate::providers_lock::LockOptions {
                stacks,
                platforms: args.platforms,
                fs_mirror: args.fs_mirror,
                net_mirror: args.net_mirror,
                jobs: args.jobs,
            },
        )
    })();
    result.unwrap_or_else(|e| {
        eprintln!("tg: error: {e}");
        1
    })
}

fn classify_stdin(cwd: &std::path::Path) -> i32 {
    use std::io::Read;
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("tg: error: cannot read stdin: {e}");
        return 1;
    }
    let repo = crate::repo::Repo::find(cwd).ok();
    match crate::config::Settings::load(repo.as_ref()) {
        Ok(s) => {
            let (class, rule) = s.classifier.classify(&input);
            println!("{class}");
            eprintln!("tg classify: {rule}");
            if let Some(advice) = crate::classify::fix_advice(&input, None) {
                eprintln!("{advice}");
            }
            0
        }
        Err(e) => {
            eprintln!("tg: error: {e}");
            1
        }
    }
}

fn ci_step(step: CiStep, cwd: &std::path::Path) -> i32 {
    use crate::ci::{CiOptions, Mode};
    let (mode, args, plan_set) = match step {
        CiStep::Apply(a) => (Mode::Apply, a, false),
        CiStep::Drift(a) => (Mode::Drift, a, false),
        CiStep::PlanSet(a) => (Mode::Apply, a, true),
    };
    let result = (|| -> Result<i32, crate::error::TgError> {
        let repo = crate::repo::Repo::find(cwd)?;
        let settings = crate::config::Settings::load(Some(&repo))?;
        if mode == Mode::Apply && !plan_set {
            if let Some(msg) = crate::ci::forge_guard(&settings) {
                println!("{msg}");
                return Ok(0);
            }
            if crate::ci::ci_skip(&std::env::var("CI_COMMIT_MESSAGE").unwrap_or_default()) {
                println!("[ci skip] in the commit message: nothing to apply.");
                return Ok(0);
            }
        }
        let selection = select(&repo, mode, &args)?;
        let stacks: Vec<String> = selection.selected.iter().map(|s| s.stack.clone()).collect();
        if plan_set {
            print_plan_set(&selection);
            return Ok(0);
        }
        if stacks.is_empty() {
            println!("No stack changed: nothing to apply.");
            return Ok(0);
        }
        println!("Stacks: {}", stacks.join(", "));
        for s in &selection.selected {
            println!("[changes] {}: {}", s.stack, s.reasons.join("; "));
        }
        let opts = CiOptions {
            mode,
            jobs: args.jobs,
            attempts: args.attempts.unwrap_or(settings.ci.attempts).max(1),
            retry_delay: std::time::Duration::from_secs(
                args.retry_delay.unwrap_or(settings.ci.retry_delay_secs),
            ),
            json_report: args.json_report,
            junit_report: args.junit_report,
            // terragrunt inits by itself (auto-init), in its own folder.
            init: crate::engine::Engine::choose()
                .is_ok_and(|e| e.kind != crate::args::EngineKind::Terragrunt),
            record_success: selection.record.map(|head| (args.remote.clone(), head)),
        };
        crate::ci::run(&repo, &settings, &opts, stacks)
    })();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tg: error: {e}");
            1
        }
    }
}

/// What `tg ci apply` runs, why, and whether a full success may be
/// recorded as the last success: only when the range started there
/// (`--since last-success`); after any other range an earlier change could
/// still be unapplied, and a human's `--all` from a working tree must not
/// move the forge's record.
struct Selection {
    selected: Vec<crate::ci::changes::Selected>,
    excluded: Vec<String>,
    record: Option<String>,
}

fn select(
    repo: &crate::repo::Repo,
    mode: crate::ci::Mode,
    args: &CiArgs,
) -> Result<Selection, crate::error::TgError> {
    use crate::ci::{changes, since};
    for s in args.stacks.iter().chain(&args.exclude) {
        repo.stack(s)?;
    }
    // Resolved before any stack runs: Tier-0 state commits move HEAD.
    let head = || since::resolve(repo, &args.head);
    let mut record = None;
    let mut selected = if !args.stacks.is_empty() {
        args.stacks
            .iter()
            .map(|s| changes::Selected {
                stack: s.clone(),
                reasons: vec!["named with --stacks".into()],
            })
            .collect()
    } else if mode == crate::ci::Mode::Drift || args.all {
        changes::all(
            repo,
            if args.all {
                "--all"
            } else {
                "drift checks every stack"
            },
        )
    } else {
        let head = head()?;
        let base = match args.since.as_deref() {
            Some("last-success") => {
                record = Some(head.clone());
                match since::read(repo, &args.remote)? {
                    Some(c) => {
                        println!("[since] last success: {c}");
                        Some(c)
                    }
                    None => {
                        println!("[since] no {} yet: every stack", since::REF);
                        None
                    }
                }
            }
            Some(rev) => Some(since::resolve(repo, rev)?),
            None => args.base.clone(),
        };
        changes::changed_stacks(repo, base.as_deref(), &head)?
    };
    let excluded: Vec<String> = selected
        .iter()
        .filter(|s| args.exclude.contains(&s.stack))
        .map(|s| s.stack.clone())
        .collect();
    if !excluded.is_empty() {
        // An excluded stack stays unapplied: not a full success.
        record = None;
        selected.retain(|s| !args.exclude.contains(&s.stack));
    }
    Ok(Selection {
        selected,
        excluded,
        record,
    })
}

fn print_plan_set(sel: &Selection) {
    if sel.selected.is_empty() {
        println!("No stack selected.");
    }
    for s in &sel.selected {
        println!("{}", s.stack);
        for r in &s.reasons {
            println!("    {r}");
        }
    }
    for s in &sel.excluded {
        println!("{s} (excluded with --exclude)");
    }
}
