//! Which stacks a range of commits touched, and why.
//!
//! `git diff --no-renames --name-only BASE HEAD` lists the changed paths
//! (a rename counts as its old and its new path). A path selects:
//! - every stack when it is tg's own configuration (the root
//!   `terragrunt.hcl`, which holds `tier0_stacks`, or `.tg.toml`);
//! - every stack whose closure ([`super::closure`]) contains it: its own
//!   folder, the local modules it calls (transitively), the terragrunt files
//!   it includes or reads, the stacks it depends on, the files its functions
//!   read;
//! - every stack with a reference tg cannot resolve statically (fail safe).
//!
//! No usable range (first push, a base git cannot resolve) selects every
//! stack.

use std::collections::BTreeMap;
use std::process::Command;

use super::closure::{self, Closure};
use crate::error::TgError;
use crate::repo::Repo;

/// How an unresolved reference shows in a reason.
const UNRESOLVED: &str = "the stack has a reference tg cannot resolve";

/// A selected stack and every reason it was selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub stack: String,
    pub reasons: Vec<String>,
}

/// Every stack, for one reason.
pub fn all(repo: &Repo, why: &str) -> Vec<Selected> {
    repo.stacks()
        .into_iter()
        .map(|s| Selected {
            stack: s.name,
            reasons: vec![why.to_string()],
        })
        .collect()
}

/// The stacks `base..head` touches. `base` of `None`, empty or all zeros
/// (Woodpecker's value on a first push) selects every stack.
pub fn changed_stacks(
    repo: &Repo,
    base: Option<&str>,
    head: &str,
) -> Result<Vec<Selected>, TgError> {
    let Some(base) = base.filter(|b| !b.is_empty() && !b.chars().all(|c| c == '0')) else {
        return Ok(all(repo, "no previous commit to diff against"));
    };
    let out = Command::new("git")
        .args(["diff", "--no-renames", "--name-only", base, head, "--"])
        .current_dir(&repo.root)
        .output()
        .map_err(|e| TgError::step("run git diff", e))?;
    if !out.status.success() {
        let why = format!(
            "git cannot diff {base}..{head} ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return Ok(all(repo, &why));
    }
    let paths: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    Ok(select(repo, &paths))
}

/// The selection for a list of changed repo-relative paths.
pub fn select(repo: &Repo, paths: &[String]) -> Vec<Selected> {
    let closures: Vec<(String, Closure)> = repo
        .stacks()
        .into_iter()
        .map(|s| {
            let c = closure::of_stack(&repo.root, &s.dir);
            (s.name, c)
        })
        .collect();
    let mut picked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in paths {
        if path == "terragrunt.hcl" || path == ".tg.toml" {
            for (s, _) in &closures {
                picked
                    .entry(s.clone())
                    .or_default()
                    .push(format!("{path} changed: tg's own configuration"));
            }
            continue;
        }
        for (s, c) in &closures {
            let reason = if let Some(via) = c.reason(path) {
                Some(format!("{path} changed ({via})"))
            } else if !c.unresolved.is_empty()
                && !picked
                    .get(s)
                    .is_some_and(|r| r.iter().any(|r| r.contains(UNRESOLVED)))
            {
                Some(format!(
                    "{path} changed and {UNRESOLVED}: {}",
                    c.unresolved.join("; ")
                ))
            } else {
                None
            };
            if let Some(r) = reason {
                let reasons = picked.entry(s.clone()).or_default();
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
        }
    }
    picked
        .into_iter()
        .map(|(stack, reasons)| Selected { stack, reasons })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack whose terragrunt.hcl does not parse cannot have its
    /// closure read: every change selects it (fail safe, as for any
    /// reference tg cannot resolve), and the reason names the file.
    #[test]
    fn unparsable_stack_file_selects_fail_safe() {
        let (_dir, repo) = crate::repo::fixture::repo(
            &["good", "bad"],
            &[
                (
                    "stacks/bad/terragrunt.hcl",
                    "dependency \"db\" {\n  config_path = \"../good\"\n",
                ),
                ("elsewhere/readme.txt", "x\n"),
            ],
        );
        let picked = select(&repo, &["elsewhere/readme.txt".to_string()]);
        assert_eq!(picked.len(), 1, "{picked:?}");
        assert_eq!(picked[0].stack, "bad");
        let why = picked[0].reasons.join("\n");
        assert!(why.contains(UNRESOLVED), "{why}");
        assert!(
            why.contains("stacks/bad/terragrunt.hcl cannot be read as HCL"),
            "{why}"
        );
    }
}
