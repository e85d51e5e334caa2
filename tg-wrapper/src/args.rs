//! Building the engine's command line, exactly as the seeds' tests pin it:
//! `-auto-approve` right after `apply` only for `--non-interactive` runs, and
//! `-lock-timeout=$TG_LOCK_TIMEOUT` (default 5m) only on state-locking verbs,
//! so a contended pg-backend lock waits instead of failing (the #1 cause of
//! infra CI failures in the seeds). Everything else is forwarded untouched.

use std::path::Path;

/// Verbs that take the state lock.
pub const LOCKING_VERBS: [&str; 5] = ["plan", "apply", "destroy", "refresh", "import"];
/// Verbs that change state (Tier-0: re-encrypt + commit; lock; main checkout only).
pub const MUTATING_VERBS: [&str; 7] = [
    "apply", "destroy", "import", "refresh", "state", "taint", "untaint",
];
/// Verbs that read or write the state file (Tier-0 points them at the decrypted copy).
const STATE_VERBS: [&str; 9] = [
    "plan", "apply", "destroy", "refresh", "import", "output", "console", "taint", "untaint",
];

/// Which program runs the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Terragrunt,
    Terraform,
    Tofu,
}

/// What the user asked for, with tg's own flags taken out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// The engine verb and its arguments, as given.
    pub args: Vec<String>,
    pub stack: Option<String>,
    pub non_interactive: bool,
    /// `--local-lock`: break-glass Tier-0 lock on this host only.
    pub local_lock: bool,
    /// `--from-unpushed`: break-glass, apply a Tier-1 stack from a checkout
    /// the forge does not have (announced on stderr).
    pub from_unpushed: bool,
}

impl Invocation {
    /// Separates tg's own flags (`--stack NAME`, `--stack=NAME`,
    /// `--local-lock`, `--from-unpushed`) from the rest.
    pub fn parse(raw: &[String]) -> Invocation {
        let mut inv = Invocation::default();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if a == "--stack" {
                inv.stack = it.next().cloned();
            } else if let Some(s) = a.strip_prefix("--stack=") {
                inv.stack = Some(s.to_string());
            } else if a == "--local-lock" {
                inv.local_lock = true;
            } else if a == "--from-unpushed" {
                inv.from_unpushed = true;
            } else {
                if a == "--non-interactive" {
                    inv.non_interactive = true;
                }
                inv.args.push(a.clone());
            }
        }
        inv
    }

    pub fn verb(&self) -> &str {
        self.args
            .iter()
            .find(|a| !a.starts_with('-'))
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn is_mutating(&self) -> bool {
        MUTATING_VERBS.contains(&self.verb())
    }

    /// Mutating, except the `state` subcommands that only read
    /// (`list`, `show`, `pull`): what must run from what the forge has.
    pub fn writes(&self) -> bool {
        if self.verb() == "state" {
            let sub = self
                .args
                .iter()
                .skip_while(|a| *a != "state")
                .skip(1)
                .find(|a| !a.starts_with('-'));
            return !matches!(
                sub.map(String::as_str),
                Some("list" | "show" | "pull") | None
            );
        }
        self.is_mutating()
    }

    /// Non-interactive: CI's `--non-interactive`, `-input=false` or
    /// `-auto-approve` (nobody is there to answer a question).
    pub fn unattended(&self) -> bool {
        self.non_interactive
            || self
                .args
                .iter()
                .any(|a| a == "-input=false" || a == "-auto-approve" || a == "--auto-approve")
    }

    pub fn takes_lock(&self) -> bool {
        LOCKING_VERBS.contains(&self.verb())
    }
}

/// The engine arguments. `state_file` (Tier-0) points state-using verbs at
/// the decrypted copy.
pub fn engine_args(
    inv: &Invocation,
    kind: EngineKind,
    lock_timeout: &str,
    state_file: Option<&Path>,
) -> Vec<String> {
    let verb = inv.verb().to_string();
    let mut out = Vec::with_capacity(inv.args.len() + 4);
    let mut inserted = false;
    let mut args = inv.args.iter().peekable();
    while let Some(a) = args.next() {
        if a == "--non-interactive" && kind != EngineKind::Terragrunt {
            // terraform/tofu have no such flag; never prompt instead.
            out.push("-input=false".to_string());
            continue;
        }
        out.push(a.clone());
        if inserted || *a != verb {
            continue;
        }
        inserted = true;
        // Flags go right after the verb: Go's flag parsing stops at the first
        // positional argument (`import ADDR ID`, `apply PLANFILE`).
        if verb == "state" {
            if let Some(sub) = args.next() {
                out.push(sub.clone());
            }
            if let Some(p) = state_file {
                out.push(format!("-state={}", p.display()));
            }
            continue;
        }
        if verb == "apply" && inv.non_interactive {
            out.push("-auto-approve".to_string());
        }
        if LOCKING_VERBS.contains(&verb.as_str()) {
            out.push(format!("-lock-timeout={lock_timeout}"));
        }
        if let Some(p) = state_file.filter(|_| STATE_VERBS.contains(&verb.as_str())) {
            out.push(format!("-state={}", p.display()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(raw: &[&str], kind: EngineKind) -> Vec<String> {
        let inv = Invocation::parse(&raw.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        engine_args(&inv, kind, "5m", None)
    }

    #[test]
    fn apply_non_interactive_gets_auto_approve_and_lock_timeout() {
        assert_eq!(
            args(&["apply", "--non-interactive"], EngineKind::Terragrunt),
            [
                "apply",
                "-auto-approve",
                "-lock-timeout=5m",
                "--non-interactive"
            ]
        );
        assert_eq!(
            args(&["apply", "--non-interactive"], EngineKind::Terraform),
            ["apply", "-auto-approve", "-lock-timeout=5m", "-input=false"]
        );
        assert_eq!(
            args(&["apply"], EngineKind::Terraform),
            ["apply", "-lock-timeout=5m"]
        );
    }

    #[test]
    fn only_locking_verbs_get_lock_timeout() {
        assert_eq!(
            args(&["plan", "-out=x"], EngineKind::Terraform),
            ["plan", "-lock-timeout=5m", "-out=x"]
        );
        assert_eq!(
            args(&["import", "a.b", "id"], EngineKind::Terraform),
            ["import", "-lock-timeout=5m", "a.b", "id"]
        );
        for verb in ["init", "validate", "output", "fmt", "providers"] {
            assert_eq!(args(&[verb], EngineKind::Terraform), [verb]);
        }
        assert_eq!(
            args(&["state", "list"], EngineKind::Terraform),
            ["state", "list"]
        );
    }

    #[test]
    fn stack_flag_is_ours_and_tier0_state_is_injected() {
        let inv = Invocation::parse(&[
            "plan".into(),
            "--stack".into(),
            "infra".into(),
            "-no-color".into(),
        ]);
        assert_eq!(inv.stack.as_deref(), Some("infra"));
        let p = Path::new("/tmp/x/terraform.tfstate");
        assert_eq!(
            engine_args(&inv, EngineKind::Terraform, "0", Some(p)),
            [
                "plan",
                "-lock-timeout=0",
                "-state=/tmp/x/terraform.tfstate",
                "-no-color"
            ]
        );
        let inv = Invocation::parse(&["state".into(), "rm".into(), "a.b".into()]);
        assert_eq!(
            engine_args(&inv, EngineKind::Terraform, "5m", Some(p)),
            ["state", "rm", "-state=/tmp/x/terraform.tfstate", "a.b"]
        );
    }
}
