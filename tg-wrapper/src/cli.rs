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
    /// Any engine verb: plan, apply, destroy, refresh, import, output, state, init, validate, fmt, ...
    #[command(external_subcommand)]
    Engine(Vec<String>),
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
