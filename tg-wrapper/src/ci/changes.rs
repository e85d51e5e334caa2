//! Which stacks a push touched, from `git diff` of the pushed range.
//!
//! A change under `stacks/<name>/` selects that stack; a change under
//! `modules/<m>/` selects every stack whose files mention `modules/<m>`;
//! a change to root configuration (root `*.hcl`, `.tg.toml`) selects all
//! stacks, as does a range git cannot resolve (first push, force-push).

use std::collections::BTreeSet;
use std::process::Command;

use crate::error::TgError;
use crate::repo::Repo;

pub fn changed_stacks(repo: &Repo, base: Option<&str>, head: &str) -> Result<Vec<String>, TgError> {
    let all = || {
        repo.stacks()
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
    };
    let Some(base) = base.filter(|b| !b.is_empty() && !b.chars().all(|c| c == '0')) else {
        println!("[changes] no previous commit for this push: selecting every stack");
        return Ok(all());
    };
    let out = Command::new("git")
        .args(["diff", "--name-only", &format!("{base}..{head}")])
        .current_dir(&repo.root)
        .output()
        .map_err(|e| TgError::step("run git diff", e))?;
    if !out.status.success() {
        println!(
            "[changes] git cannot diff {base}..{head} ({}): selecting every stack",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return Ok(all());
    }
    let mut selected = BTreeSet::new();
    for path in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["stacks", name, _, ..] if repo.stack(name).is_ok() => {
                selected.insert(name.to_string());
            }
            ["modules", module, ..] => {
                let users = stacks_using_module(repo, module);
                println!(
                    "[changes] modules/{module} changed: used by {}",
                    if users.is_empty() {
                        "no stack".into()
                    } else {
                        users.join(", ")
                    }
                );
                selected.extend(users);
            }
            [file] if file.ends_with(".hcl") || *file == ".tg.toml" => {
                println!("[changes] root config {file} changed: selecting every stack");
                return Ok(all());
            }
            _ => {}
        }
    }
    Ok(selected.into_iter().collect())
}

/// Stacks whose `.tf`/`.hcl` files mention `modules/<module>`.
fn stacks_using_module(repo: &Repo, module: &str) -> Vec<String> {
    let needle = format!("modules/{module}");
    repo.stacks()
        .into_iter()
        .filter(|s| {
            std::fs::read_dir(&s.dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| {
                            e.path()
                                .extension()
                                .is_some_and(|x| x == "tf" || x == "hcl")
                        })
                        .any(|e| {
                            std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains(&needle))
                        })
                })
                .unwrap_or(false)
        })
        .map(|s| s.name)
        .collect()
}
