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
        let root = Repo::root_of(start)
            .ok_or_else(|| {
                TgError::Usage(format!(
                    "{} is not inside an infra repo (no ancestor has a root terragrunt.hcl next to stacks/)",
                    start.display()
                ))
            })?;
        let text =
            std::fs::read_to_string(root.join("terragrunt.hcl")).map_err(|e| TgError::Step {
                step: "read the root terragrunt.hcl".into(),
                output: e.to_string(),
            })?;
        let tier0_stacks = parse_tier0_stacks(&text).map_err(|e| {
            TgError::Usage(format!("{}: {e}", root.join("terragrunt.hcl").display()))
        })?;
        Ok(Repo { root, tier0_stacks })
    }

    /// The repo root above `start` (the nearest ancestor with a
    /// `terragrunt.hcl` next to `stacks/`), without reading anything.
    pub fn root_of(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|d| d.join("terragrunt.hcl").is_file() && d.join("stacks").is_dir())
            .map(Path::to_path_buf)
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

/// Reads `tier0_stacks = ["a", "b"]` (at top level or inside a `locals`
/// block) from the root `terragrunt.hcl`, parsed as HCL: comments,
/// heredocs and strings that merely mention the name are not read as the
/// list. Absent, no stack is Tier-0. Anything tg cannot read for certain
/// is an error rather than a guess, since a Tier-0 stack taken for Tier-1
/// would run without its state lock and encryption: HCL that does not
/// parse, the attribute set twice, or a value other than a list of literal
/// names (an interpolation, a function call, a local).
pub fn parse_tier0_stacks(text: &str) -> Result<Vec<String>, String> {
    let body = hcl::parse(text).map_err(|e| format!("not valid HCL: {e}"))?;
    let locals = body
        .blocks()
        .filter(|b| b.identifier() == "locals")
        .flat_map(|b| b.body().attributes());
    let mut found = body
        .attributes()
        .chain(locals)
        .filter(|a| a.key() == "tier0_stacks");
    let Some(attr) = found.next() else {
        return Ok(Vec::new());
    };
    if found.next().is_some() {
        return Err("tier0_stacks is set more than once".into());
    }
    let hcl::Expression::Array(items) = attr.expr() else {
        return Err(format!(
            "tier0_stacks must be a list of stack names, not {}",
            crate::ci::closure::short(attr.expr())
        ));
    };
    items
        .iter()
        .map(|e| {
            crate::ci::closure::literal(e).ok_or_else(|| {
                format!(
                    "tier0_stacks must list literal stack names; {} is not one",
                    crate::ci::closure::short(e)
                )
            })
        })
        .collect()
}

/// Infra repos for unit tests.
#[cfg(test)]
pub(crate) mod fixture {
    use super::Repo;

    /// A temp infra repo: a root terragrunt.hcl without Tier-0 stacks, a
    /// `stacks/<name>/main.tf` for each of `stacks`, then `files`
    /// (repo-relative path, text); and the [`Repo`] found in it.
    pub(crate) fn repo(stacks: &[&str], files: &[(&str, &str)]) -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| testsupport::write_file(dir.path(), rel, text);
        write("terragrunt.hcl", "locals {\n  tier0_stacks = []\n}\n");
        for s in stacks {
            write(&format!("stacks/{s}/main.tf"), "# stack\n");
        }
        for (rel, text) in files {
            write(rel, text);
        }
        let repo = Repo::find(dir.path()).unwrap();
        (dir, repo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier0_list_parsing() {
        let hcl = "locals {\n  tier0_stacks = [\n    \"infra\", # base\n    \"vault\",\n  ]\n  other = [\"x\"]\n}\n";
        assert_eq!(parse_tier0_stacks(hcl).unwrap(), vec!["infra", "vault"]);
        assert_eq!(
            parse_tier0_stacks("tier0_stacks = [\"a\",\"b\"]").unwrap(),
            vec!["a", "b"]
        );
        assert!(parse_tier0_stacks("nothing = 1").unwrap().is_empty());
    }

    /// Files the old substring reader misread: it took the first mention
    /// of `tier0_stacks` and the text up to the first `]` after it.
    #[test]
    fn tier0_list_from_odd_hcl() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "a commented-out list before the real one",
                "# tier0_stacks = [\"old\"]\n/* tier0_stacks = [\"older\"] */\nlocals {\n  tier0_stacks = [\"infra\"]\n}\n",
                &["infra"],
            ),
            (
                "a `]` in a comment inside the list (the old reader stopped there and lost vault)",
                "locals {\n  tier0_stacks = [\n    \"infra\", // see [docs]\n    \"vault\",\n  ]\n}\n",
                &["infra", "vault"],
            ),
            (
                "a heredoc that quotes a list",
                "locals {\n  note = <<-EOT\n    tier0_stacks = [\"fake\"]\n  EOT\n  tier0_stacks = [\"vault\"]\n}\n",
                &["vault"],
            ),
            (
                "another name ending in tier0_stacks",
                "locals {\n  old_tier0_stacks = [\"x\"]\n  tier0_stacks = [\"y\"]\n}\n",
                &["y"],
            ),
            (
                "a string mentioning it, and a list in an inputs object",
                "locals {\n  doc = \"tier0_stacks = [\\\"z\\\"]\"\n}\ninputs = {\n  tier0_stacks = [\"w\"]\n}\n",
                &[],
            ),
        ];
        for (what, text, want) in cases {
            assert_eq!(
                parse_tier0_stacks(text).unwrap_or_else(|e| panic!("{what}: {e}")),
                *want,
                "{what}"
            );
        }
    }

    /// What cannot be read for certain is refused, not guessed.
    #[test]
    fn tier0_list_unreadable_is_an_error() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "unterminated list",
                "locals {\n  tier0_stacks = [\"infra\"\n",
                "not valid HCL",
            ),
            (
                "an interpolation",
                "locals {\n  tier0_stacks = [\"${local.name}\"]\n}\n",
                "literal stack names",
            ),
            (
                "a function call",
                "locals {\n  tier0_stacks = concat([\"a\"], [\"b\"])\n}\n",
                "a list of stack names",
            ),
            (
                "set twice",
                "tier0_stacks = [\"a\"]\nlocals {\n  tier0_stacks = [\"b\"]\n}\n",
                "more than once",
            ),
        ];
        for (what, text, want) in cases {
            let e = parse_tier0_stacks(text).expect_err(what);
            assert!(e.contains(want), "{what}: {e}");
        }
    }

    #[test]
    fn unparsable_root_file_names_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("stacks")).unwrap();
        let file = dir.path().join("terragrunt.hcl");
        std::fs::write(&file, "locals {\n  tier0_stacks = [\"infra\"\n").unwrap();
        let e = Repo::find(dir.path()).unwrap_err().to_string();
        assert!(e.contains(&file.display().to_string()), "{e}");
        assert!(e.contains("not valid HCL"), "{e}");
    }
}
