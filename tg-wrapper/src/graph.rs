//! `tg graph`: the stacks and what ties them together, as Graphviz DOT or
//! a Mermaid flowchart.
//!
//! Edges come from the same parse `tg ci` selects with
//! ([`crate::ci::closure`]), never from matching text:
//! - terragrunt `dependency` / `dependencies` (a stack needs another's
//!   outputs: that one applies first);
//! - the platform-first order of `.tg.toml` `platform_stacks` (applied
//!   serially in the listed order, before every other stack);
//! - local modules (`module { source }`, terragrunt `terraform { source }`),
//!   modules called by modules, included / read terragrunt files and files
//!   read by functions outside the stack folder.
//!
//! An edge `A -> B` reads "A needs B": B applies first, or a change to B
//! changes what A's apply does. With `--changed BASE..HEAD` the stacks a
//! `tg ci apply` of that range would select are marked, each with its
//! reasons ([`crate::ci::changes`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::args::EngineKind;
use crate::ci::changes::Selected;
use crate::ci::closure;
use crate::repo::Repo;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Stack,
    Module,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Repo-relative path (`stacks/web`, `modules/net`, `root.hcl`).
    pub id: String,
    pub kind: Kind,
    /// Shown under the name: tier and backend for stacks.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    Dependency,
    Platform,
    Reads,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub label: String,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub nodes: BTreeMap<String, Node>,
    pub edges: BTreeSet<Edge>,
    /// `platform_stacks` present in the repo, in apply order.
    pub platform: Vec<String>,
    /// Stack id → reasons it is selected (`--changed`).
    pub selected: BTreeMap<String, Vec<String>>,
}

/// How one hop of a closure chain reads: `module "app" in F: src`.
struct Hop<'a> {
    what: &'a str,
    file: &'a str,
}

fn hop(seg: &str) -> Option<Hop<'_>> {
    let (what, rest) = seg.split_once(" in ")?;
    let file = rest.split_once(": ").map(|(f, _)| f).unwrap_or(rest);
    Some(Hop { what, file })
}

fn is_dependency(what: &str) -> bool {
    what.starts_with("dependency ") || what == "dependencies" || what.starts_with("dependencies ")
}

/// `stacks/<name>` when `path` is exactly a stack folder.
fn stack_of_folder(path: &str) -> Option<&str> {
    path.strip_prefix("stacks/").filter(|n| !n.contains('/'))
}

/// The node reading through a hop declared in `file`: a stack's own
/// `*.tf`/`terragrunt.hcl` → the stack; a module's `*.tf` → the module
/// folder; any other terragrunt file (`root.hcl`) → that file.
fn reader(file: &str) -> (String, Kind) {
    let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
    let tf = name.ends_with(".tf") || name.ends_with(".tf.json");
    if stack_of_folder(dir).is_some() && (tf || name == "terragrunt.hcl") {
        (dir.to_string(), Kind::Stack)
    } else if tf {
        (dir.to_string(), Kind::Module)
    } else {
        (file.to_string(), Kind::File)
    }
}

/// The stacks `stack` depends on directly through terragrunt
/// `dependency` / `dependencies` blocks (its own or included ones).
pub fn dependencies(repo: &Repo, stack: &str) -> BTreeSet<String> {
    let c = closure::of_stack(&repo.root, &repo.root.join("stacks").join(stack));
    c.trees
        .iter()
        .filter_map(|(tree, via)| {
            let dep = stack_of_folder(tree)?;
            let hops: Vec<&str> = via.split(" → ").skip(1).collect();
            let last = hop(hops.last()?)?;
            let direct = hops
                .iter()
                .filter(|h| hop(h).is_some_and(|h| is_dependency(h.what)))
                .count()
                == 1;
            (direct && is_dependency(last.what) && dep != stack).then(|| dep.to_string())
        })
        .collect()
}

impl Graph {
    /// Every stack of the repo and what it reads.
    pub fn build(repo: &Repo, platform: &[String], engine: EngineKind) -> Graph {
        let mut g = Graph::default();
        let stacks = repo.stacks();
        for s in &stacks {
            let id = format!("stacks/{}", s.name);
            let detail = if s.tier0 {
                "Tier-0 · state in git (SOPS)".to_string()
            } else {
                match crate::backend::effective(&repo.root, &s.dir, engine) {
                    Ok(e) => match (e.kind.as_deref(), e.schema) {
                        (Some(k), Some(schema)) => format!("Tier-1 · {k} {schema}"),
                        (Some(k), None) => format!("Tier-1 · {k}"),
                        (None, _) if !e.configured => "Tier-1 · no configuration".into(),
                        (None, _) => "Tier-1 · NO BACKEND".into(),
                    },
                    Err(_) => "Tier-1 · backend unknown".into(),
                }
            };
            g.nodes.insert(
                id.clone(),
                Node {
                    id,
                    kind: Kind::Stack,
                    detail,
                },
            );
        }
        g.platform = platform
            .iter()
            .filter(|p| stacks.iter().any(|s| &s.name == *p))
            .cloned()
            .collect();
        for pair in g.platform.windows(2) {
            g.edges.insert(Edge {
                from: format!("stacks/{}", pair[1]),
                to: format!("stacks/{}", pair[0]),
                kind: EdgeKind::Platform,
                label: "after".into(),
            });
        }
        for s in &stacks {
            let me = format!("stacks/{}", s.name);
            let c = closure::of_stack(&repo.root, &s.dir);
            let entries = c
                .trees
                .iter()
                .map(|(t, v)| (t, v, true))
                .chain(c.files.iter().map(|(f, v)| (f, v, false)));
            for (target, via, tree) in entries {
                let hops: Vec<&str> = via.split(" → ").skip(1).collect();
                let Some(last) = hops.last().and_then(|h| hop(h)) else {
                    continue; // the stack's own files
                };
                let deps = hops
                    .iter()
                    .filter(|h| hop(h).is_some_and(|h| is_dependency(h.what)))
                    .count();
                if deps > 1 || (deps == 1 && !is_dependency(last.what)) {
                    continue; // inside another stack's closure: its own edges
                }
                // A dependency block is the stack's, wherever it is written
                // (an included file's blocks merge into the stack).
                let (from, from_kind) = if is_dependency(last.what) {
                    (me.clone(), Kind::Stack)
                } else {
                    reader(last.file)
                };
                let (to, to_kind, kind) = if is_dependency(last.what) {
                    match (tree, stack_of_folder(target)) {
                        (true, Some(_)) => (target.clone(), Kind::Stack, EdgeKind::Dependency),
                        _ => continue, // the dependency's terragrunt.hcl: same edge
                    }
                } else if tree {
                    let k = if stack_of_folder(target).is_some() {
                        Kind::Stack
                    } else {
                        Kind::Module
                    };
                    (target.clone(), k, EdgeKind::Reads)
                } else {
                    (target.clone(), Kind::File, EdgeKind::Reads)
                };
                if from == to || (to == me && from_kind == Kind::Stack) {
                    continue;
                }
                for (id, k) in [(&from, from_kind), (&to, to_kind)] {
                    g.nodes.entry(id.clone()).or_insert_with(|| Node {
                        id: id.clone(),
                        kind: k,
                        detail: String::new(),
                    });
                }
                g.edges.insert(Edge {
                    from,
                    to,
                    kind,
                    label: last.what.to_string(),
                });
            }
        }
        g
    }

    /// Marks what a CI run over the range would select.
    pub fn mark(&mut self, selected: &[Selected]) {
        for s in selected {
            self.selected
                .insert(format!("stacks/{}", s.stack), s.reasons.clone());
        }
    }

    fn name(&self, id: &str) -> String {
        match self.nodes.get(id).map(|n| n.kind) {
            Some(Kind::Stack) => id.trim_start_matches("stacks/").to_string(),
            _ => id.to_string(),
        }
    }

    fn apps(&self) -> Vec<&Node> {
        self.nodes
            .values()
            .filter(|n| {
                n.kind == Kind::Stack
                    && !self.platform.iter().any(|p| n.id == format!("stacks/{p}"))
            })
            .collect()
    }

    /// Graphviz DOT (`dot -Tsvg` renders it).
    pub fn dot(&self) -> String {
        let q = |s: &str| {
            format!(
                "\"{}\"",
                s.replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n")
            )
        };
        let mut out = String::from(
            "// tg graph: A -> B reads \"A needs B\" (B applies first, or a change to B changes A's apply)\ndigraph stacks {\n  rankdir=LR;\n  compound=true;\n  fontname=\"Helvetica\";\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        );
        for (id, reasons) in &self.selected {
            for r in reasons {
                out.push_str(&format!(
                    "  // selected {}: {}\n",
                    self.name(id),
                    r.replace('\n', " ")
                ));
            }
        }
        let node = |n: &Node| -> String {
            let mut label = self.name(&n.id);
            if !n.detail.is_empty() {
                label.push('\n');
                label.push_str(&n.detail);
            }
            let (shape, fill) = match n.kind {
                Kind::Stack if n.detail.starts_with("Tier-0") => ("box", "#fde68a"),
                Kind::Stack => ("box", "#dbeafe"),
                Kind::Module => ("folder", "#e5e7eb"),
                Kind::File => ("note", "#f3f4f6"),
            };
            let mut attrs = format!(
                "label={}, shape={shape}, style=\"rounded,filled\", fillcolor=\"{fill}\"",
                q(&label)
            );
            if let Some(reasons) = self.selected.get(&n.id) {
                label.push_str("\n● selected");
                attrs = format!(
                    "label={}, shape={shape}, style=\"rounded,filled,bold\", fillcolor=\"#fecaca\", color=\"#dc2626\", penwidth=2, tooltip={}",
                    q(&label),
                    q(&reasons.join("; "))
                );
            }
            format!("{} [{attrs}];\n", q(&n.id))
        };
        if !self.platform.is_empty() {
            out.push_str("  subgraph cluster_platform {\n    label=\"platform stacks (applied first, in this order)\";\n    style=dashed;\n");
            for p in &self.platform {
                if let Some(n) = self.nodes.get(&format!("stacks/{p}")) {
                    out.push_str(&format!("    {}", node(n)));
                }
            }
            out.push_str(
                "  }\n  subgraph cluster_apps {\n    label=\"app stacks\";\n    style=dashed;\n",
            );
            for n in self.apps() {
                out.push_str(&format!("    {}", node(n)));
            }
            out.push_str("  }\n");
        } else {
            for n in self.apps() {
                out.push_str(&format!("  {}", node(n)));
            }
        }
        for n in self.nodes.values().filter(|n| n.kind != Kind::Stack) {
            out.push_str(&format!("  {}", node(n)));
        }
        if let (Some(last), Some(app)) = (self.platform.last(), self.apps().first()) {
            out.push_str(&format!(
                "  {} -> {} [ltail=cluster_apps, lhead=cluster_platform, style=dashed, label=\"after the platform stacks\"];\n",
                q(&app.id),
                q(&format!("stacks/{last}"))
            ));
        }
        for e in &self.edges {
            let style = match e.kind {
                EdgeKind::Dependency => "color=\"#1d4ed8\", penwidth=1.5",
                EdgeKind::Platform => "style=dashed",
                EdgeKind::Reads => "color=\"#6b7280\"",
            };
            out.push_str(&format!(
                "  {} -> {} [label={}, {style}];\n",
                q(&e.from),
                q(&e.to),
                q(&e.label)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (renders in Forgejo / GitHub markdown).
    pub fn mermaid(&self) -> String {
        let ids: BTreeMap<&String, String> = self
            .nodes
            .keys()
            .enumerate()
            .map(|(i, k)| (k, format!("n{i}")))
            .collect();
        let text = |s: &str| {
            s.replace('"', "#quot;")
                .replace('<', "#lt;")
                .replace('>', "#gt;")
        };
        let mut out = String::from(
            "%% tg graph: A --> B reads \"A needs B\" (B applies first, or a change to B changes A's apply)\nflowchart LR\n",
        );
        for (id, reasons) in &self.selected {
            for r in reasons {
                out.push_str(&format!(
                    "%% selected {}: {}\n",
                    self.name(id),
                    r.replace('\n', " ")
                ));
            }
        }
        let node = |n: &Node| -> String {
            let mut label = text(&self.name(&n.id));
            if !n.detail.is_empty() {
                label.push_str("<br/>");
                label.push_str(&text(&n.detail));
            }
            if self.selected.contains_key(&n.id) {
                label.push_str("<br/>● selected");
            }
            let (open, close) = match n.kind {
                Kind::Stack => ("[\"", "\"]"),
                Kind::Module => ("[/\"", "\"/]"),
                Kind::File => ("[(\"", "\")]"),
            };
            format!("{}{open}{label}{close}\n", ids[&n.id])
        };
        if !self.platform.is_empty() {
            out.push_str(
                "  subgraph platform [\"platform stacks (applied first, in this order)\"]\n",
            );
            for p in &self.platform {
                if let Some(n) = self.nodes.get(&format!("stacks/{p}")) {
                    out.push_str(&format!("    {}", node(n)));
                }
            }
            out.push_str("  end\n  subgraph apps [\"app stacks\"]\n");
            for n in self.apps() {
                out.push_str(&format!("    {}", node(n)));
            }
            out.push_str("  end\n  apps -. after the platform stacks .-> platform\n");
        } else {
            for n in self.apps() {
                out.push_str(&format!("  {}", node(n)));
            }
        }
        for n in self.nodes.values().filter(|n| n.kind != Kind::Stack) {
            out.push_str(&format!("  {}", node(n)));
        }
        for e in &self.edges {
            let arrow = match e.kind {
                EdgeKind::Dependency => "==>",
                EdgeKind::Platform => "-.->",
                EdgeKind::Reads => "-->",
            };
            out.push_str(&format!(
                "  {} {arrow}|\"{}\"| {}\n",
                ids[&e.from],
                text(&e.label),
                ids[&e.to]
            ));
        }
        let tier0: Vec<&str> = self
            .nodes
            .values()
            .filter(|n| n.detail.starts_with("Tier-0"))
            .map(|n| ids[&n.id].as_str())
            .collect();
        out.push_str("  classDef tier0 fill:#fde68a,stroke:#92400e\n  classDef tier1 fill:#dbeafe,stroke:#1e40af\n  classDef selected fill:#fecaca,stroke:#dc2626,stroke-width:3px\n");
        let tier1: Vec<&str> = self
            .nodes
            .values()
            .filter(|n| n.kind == Kind::Stack && !n.detail.starts_with("Tier-0"))
            .map(|n| ids[&n.id].as_str())
            .collect();
        for (class, list) in [("tier0", tier0), ("tier1", tier1)] {
            if !list.is_empty() {
                out.push_str(&format!("  class {} {class}\n", list.join(",")));
            }
        }
        let sel: Vec<&str> = self
            .selected
            .keys()
            .filter_map(|k| ids.get(k))
            .map(String::as_str)
            .collect();
        if !sel.is_empty() {
            out.push_str(&format!("  class {} selected\n", sel.join(",")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_and_readers() {
        let h = hop("module \"app\" in stacks/web/main.tf: ../../modules/app").unwrap();
        assert_eq!((h.what, h.file), ("module \"app\"", "stacks/web/main.tf"));
        assert_eq!(
            reader("stacks/web/main.tf"),
            ("stacks/web".into(), Kind::Stack)
        );
        assert_eq!(
            reader("modules/app/main.tf"),
            ("modules/app".into(), Kind::Module)
        );
        assert_eq!(
            reader("stacks/n/modules/x/main.tf"),
            ("stacks/n/modules/x".into(), Kind::Module)
        );
        assert_eq!(reader("root.hcl"), ("root.hcl".into(), Kind::File));
        assert!(is_dependency("dependency \"db\""));
        assert!(is_dependency("dependencies"));
        assert!(!is_dependency("module \"dependency\""));
    }
}
