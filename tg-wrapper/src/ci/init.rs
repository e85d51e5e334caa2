//! `terraform init` before a CI run, only when the stack's `.terraform` is
//! not current.
//!
//! terraform (unlike terragrunt, which has auto-init) needs an init after a
//! fresh clone, a lock file change or a change to what init installs. tg
//! records a fingerprint of those inputs in `.terraform/tg-init.stamp` after
//! a successful init and skips the next init while it matches. The inputs:
//! the `.terraform.lock.hcl`, and in every Terraform module the stack reads
//! ([`super::closure`]) the `terraform` blocks (required providers,
//! backend) and the `source`/`version` of `module` blocks. Any other edit
//! (resources, variables, module inputs) needs no init.

use std::hash::{Hash, Hasher};
use std::path::Path;

const STAMP: &str = ".terraform/tg-init.stamp";

/// Why `dir` needs an init, or `None` when `.terraform` is current (or the
/// stack has no Terraform files of its own to init).
pub fn needed(root: &Path, dir: &Path) -> Option<String> {
    let has_tf = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .any(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.ends_with(".tf") || n.ends_with(".tf.json")
        });
    if !has_tf {
        return None;
    }
    if !dir.join(".terraform").is_dir() {
        return Some("no .terraform yet".into());
    }
    match std::fs::read_to_string(dir.join(STAMP)) {
        Err(_) => Some("no record of a tg init".into()),
        Ok(s) if s.trim() != fingerprint(root, dir) => {
            Some("the lock file, a terraform block or a module block changed".into())
        }
        Ok(_) => None,
    }
}

/// Records that `dir` was just initialised successfully.
pub fn done(root: &Path, dir: &Path) {
    let _ = std::fs::write(dir.join(STAMP), fingerprint(root, dir) + "\n");
}

/// A hash of what init depends on. `DefaultHasher` is stable for one tg
/// build; a different build at worst runs one extra init.
fn fingerprint(root: &Path, dir: &Path) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(dir.join(".terraform.lock.hcl"))
        .unwrap_or_default()
        .hash(&mut h);
    let closure = super::closure::of_stack(root, dir);
    for (tree, _) in &closure.trees {
        let module = root.join(tree);
        let Ok(entries) = std::fs::read_dir(&module) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".tf.json") {
                // Not worth a partial reading: the whole file counts.
                std::fs::read(&f).unwrap_or_default().hash(&mut h);
            } else if name.ends_with(".tf") {
                let text = std::fs::read_to_string(&f).unwrap_or_default();
                match hcl::parse(&text) {
                    Ok(body) => {
                        for b in body.blocks() {
                            match b.identifier.as_str() {
                                "terraform" => hcl::to_string(b).unwrap_or_default().hash(&mut h),
                                "module" => {
                                    for a in b
                                        .body
                                        .attributes()
                                        .filter(|a| matches!(a.key.as_str(), "source" | "version"))
                                    {
                                        (a.key.as_str(), a.expr.to_string()).hash(&mut h);
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                    Err(_) => text.hash(&mut h),
                }
            }
        }
    }
    format!("{:016x}", h.finish())
}
