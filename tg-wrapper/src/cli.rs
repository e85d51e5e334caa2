//! The command line. Engine verbs (`tg plan`, `tg apply --non-interactive`,
//! ...) are forwarded through [`crate::run`]; tg's own subcommands sit
//! beside them.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `tg --help` after the subcommands: the engine verbs people type, what
/// tg adds to each, examples and the environment (docs/tg.md has it all).
const AFTER_HELP: &str = "\
Engine verbs (run by terragrunt, terraform or tofu in the stack folder; tg adds):
  plan                    -lock-timeout; the tier's state handling (below)
  apply, destroy          -lock-timeout; only what the forge has; the destroy brake
                          (plan file + show -json: deletions need the typed stack name,
                          or Tg-Allow-Destroy / .tg.toml in CI); -auto-approve only
                          with --non-interactive (CI)
  import, refresh         -lock-timeout; only what the forge has; the tier's state
  state <sub>, taint,     only what the forge has (state list/show/pull only read);
    untaint               the tier's state
  output, show, console   the tier's state (read)
  init                    the shared provider cache; never -lock-timeout
  force-unlock <stack>    Tier-0: break the lock held in Vault
  validate, fmt, version, providers ...  forwarded untouched, no backend needed
The tier's state: Tier-0 (tier0_stacks) decrypts the SOPS state under the Vault lock,
then re-encrypts, commits and pushes it; Tier-1 gets PG_CONN_STR (Vault static creds)
and is refused unless its state goes to its own schema through the pg backend, with
no plaintext terraform.tfstate in the folder.
--non-interactive, --from-unpushed, --local-lock and --stack are tg's own flags; every
other argument is forwarded untouched.

Examples:
  tg plan --stack app-config              plan one stack from anywhere in the repo
  tg ci apply --since last-success --jobs 4 --json-report r.json
                                          the CI apply step, with progress and ETA

Environment:
  TG_ENGINE               engine (name or path): default terragrunt, else terraform
  TG_LOCK_TIMEOUT         -lock-timeout and the Tier-0 lock wait (default 5m)
  TG_LOCK_WAIT, TG_LOCK_LEASE  Tier-0 lock wait and lease
  PG_CONN_STR             Tier-1 connection string (else read from Vault)
  TG_PG_HOST, TG_PG_PORT, TG_PG_DATABASE, TG_PG_SSLMODE  the state database
  VAULT_ADDR, VAULT_TOKEN, VAULT_K8S_ROLE  Vault and its token / Kubernetes login
  SOPS_AGE_KEY_FILE, SOPS_AGE_KEY  age identities (Tier-0 break-glass)
  TG_TMPDIR               where Tier-0 plaintext may live (default /dev/shm)
  TG_PLUGIN_CACHE_DIR     shared provider cache (off: none)
  TG_CI_ATTEMPTS, TG_CI_RETRY_DELAY  tg ci retries
  TG_PROGRESS             tg ci progress: line (one per stack), live (one updated line),
                          off; default live on a terminal, else line
Completions: tg completions bash|zsh|fish. Manual: docs/tg.md";

#[derive(Debug, Parser)]
#[command(
    name = "tg",
    version,
    about = "The Terragrunt/Terraform wrapper every apply goes through (docs/tg.md)",
    after_help = AFTER_HELP,
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
    /// Check the engine, repo config, Vault, the PG state lock, SOPS keys and
    /// each stack's tier, backend and schema.
    Doctor,
    /// Print the stacks and their edges (dependencies, platform order,
    /// modules and files read) as Graphviz DOT or Mermaid.
    Graph(GraphArgs),
    /// Print a completion script for bash, zsh or fish.
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
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

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    pub format: GraphFormat,
    /// Mark the stacks `tg ci apply` would select for this range, and why
    /// (HEAD when `..HEAD` is left out).
    #[arg(long, value_name = "BASE..HEAD")]
    pub changed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz (`dot -Tsvg`).
    Dot,
    /// A Mermaid flowchart (renders in Forgejo / GitHub markdown).
    Mermaid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
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
    /// A previous run's --json-report: its per-stack durations start the
    /// ETA of the progress lines before this run has timed any stack.
    #[arg(long, value_name = "REPORT.json")]
    pub eta_from: Option<std::path::PathBuf>,
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
        Command::Graph(args) => graph(&args, &cwd),
        Command::Completions { shell } => {
            completions(shell);
            0
        }
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

/// `tg completions SHELL`: clap's generator over this very command line,
/// so the script knows every subcommand and flag.
fn completions(shell: CompletionShell) {
    use clap::CommandFactory;
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "tg", &mut std::io::stdout());
}

fn graph(args: &GraphArgs, cwd: &std::path::Path) -> i32 {
    let result = (|| -> Result<String, crate::error::TgError> {
        let repo = crate::repo::Repo::find(cwd)?;
        let settings = crate::config::Settings::load(Some(&repo))?;
        let engine = crate::engine::Engine::choose()
            .map(|e| e.kind)
            .unwrap_or(crate::args::EngineKind::Terraform);
        let mut g = crate::graph::Graph::build(&repo, &settings.ci.platform_stacks, engine);
        if let Some(range) = &args.changed {
            let (base, head) = range.split_once("..").unwrap_or((range.as_str(), ""));
            let head = if head.is_empty() { "HEAD" } else { head };
            if base.is_empty() || base.starts_with('-') || head.starts_with('-') {
                return Err(crate::error::TgError::Usage(format!(
                    "--changed wants BASE..HEAD (two commits), not {range:?}"
                )));
            }
            let base = crate::ci::since::resolve(&repo, base)?;
            let head = crate::ci::since::resolve(&repo, head)?;
            let mut selected = crate::ci::changes::changed_stacks(&repo, Some(&base), &head)?;
            for s in &mut selected {
                if settings.ci.skip_stacks.contains(&s.stack) {
                    s.reasons
                        .push("listed in skip_stacks: tg ci skips it (human-applied)".into());
                }
            }
            g.mark(&selected);
        }
        Ok(match args.format {
            GraphFormat::Dot => g.dot(),
            GraphFormat::Mermaid => g.mermaid(),
        })
    })();
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("tg: error: {e}");
            1
        }
    }
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
            eta_from: args.eta_from.clone(),
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
