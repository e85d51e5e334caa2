//! Where we are: the infra repo root, the stack and its tier.

use std::path::{Path, PathBuf};

use crate::error::TgError;

/// The infra repo: the nearest ancestor holding the root `terragrunt.hcl`
/// next to a `stacks/` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub root: PathBuf,
    pub tier0_stacks: Vec<String>,
}

/// One stack: `stacks/<name>/` with its own `terragrunt.hcl` or `*.tf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    pub name: String,
    pub dir: PathBuf,
    pub tier0: bool,
}

impl Repo {
    /// Walks up from `start` to the repo root.
    pub fn find(start: &Path) -> Result<Repo, TgError> {
        let root = start
            .ancestors()
            .find(|d| d.join("terragrunt.hcl").is_file() && d.join("stacks").is_dir())
            .ok_or_else(|| {
                TgError::Usage(format!(
                    "{} is not inside an infra repo (no ancestor has a root terragrunt.hcl next to stacks/)",
                    start.display()
                ))
            })?
            .to_path_buf();
        let text =
            std::fs::read_to_string(root.join("terragrunt.hcl")).map_err(|e| TgError::Step {
                step: "read the root terragrunt.hcl".into(),
                output: e.to_string(),
            })?;
        Ok(Repo {
            tier0_stacks: parse_tier0_stacks(&text),
            root,
        })
    }

    pub fn stack(&self, name: &str) -> Result<Stack, TgError> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(TgError::Usage(format!("{name:?} is not a stack name")));
        }
        let dir = self.root.join("stacks").join(name);
        if !dir.is_dir() {
            return Err(TgError::Usage(format!(
                "no stack {name:?}: {} does not exist",
                dir.display()
            )));
        }
        Ok(Stack {
            name: name.to_string(),
            tier0: self.tier0_stacks.iter().any(|s| s == name),
            dir,
        })
    }

    /// The stack `dir` is in (`stacks/<name>/...`), if any.
    pub fn stack_containing(&self, dir: &Path) -> Option<Stack> {
        let rel = dir.strip_prefix(self.root.join("stacks")).ok()?;
        let name = rel.components().next()?.as_os_str().to_str()?;
        self.stack(name).ok()
    }

    /// Every stack folder, sorted by name.
    pub fn stacks(&self) -> Vec<Stack> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join("stacks"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names.iter().filter_map(|n| self.stack(n).ok()).collect()
    }

    /// Where a Tier-0 stack's encrypted state lives in git.
    pub fn encrypted_state_path(&self, stack: &str) -> PathBuf {
        self.root
            .join("state")
            .join("stacks")
            .join(stack)
            .join("terraform.tfstate")
    }

    /// git-ignored scratch space for locks (`.tg/`, self-ignoring).
    pub fn scratch_dir(&self) -> Result<PathBuf, TgError> {
        let dir = self.root.join(".tg");
        std::fs::create_dir_all(dir.join("locks"))
            .and_then(|_| std::fs::write(dir.join(".gitignore"), "*\n"))
            .map_err(|e| TgError::Step {
                step: format!("create {}", dir.display()),
                output: e.to_string(),
            })?;
        Ok(dir)
    }
}

/// Reads `tier0_stacks = ["a", "b"]` (at top level or inside `locals`)
/// without a full HCL parser: the list may span lines and hold comments.
pub fn parse_tier0_stacks(hcl: &str) -> Vec<String> {
    let Some(start) = hcl.find("tier0_stacks") else {
        return Vec::new();
    };
    let rest = &hcl[start..];
    let Some(open) = rest.find('[') else {
        return Vec::new();
    };
    let Some(close) = rest[open..].find(']') else {
        return Vec::new();
    };
    let list = &rest[open + 1..open + close];
    let mut out = Vec::new();
    for line in list.lines() {
        let line = line
            .split('#')
            .next()
            .unwrap_or("")
            .split("//")
            .next()
            .unwrap_or("");
        let mut parts = line.split('"');
        parts.next();
        while let Some(name) = parts.next() {
            out.push(name.to_string());
            parts.next();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier0_list_parsing() {
        let hcl = "locals {\n  tier0_stacks = [\n    \"infra\", # base\n    \"vault\",\n  ]\n  other = [\"x\"]\n}\n";
        assert_eq!(parse_tier0_stacks(hcl), vec!["infra", "vault"]);
        assert_eq!(
            parse_tier0_stacks("tier0_stacks = [\"a\",\"b\"]"),
            vec!["a", "b"]
        );
        assert!(parse_tier0_stacks("nothing here").is_empty());
    }
}
