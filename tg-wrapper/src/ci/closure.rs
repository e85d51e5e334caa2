//! What a stack reads: the files whose change can change what its apply
//! does, found by parsing its HCL (no pattern matching over the text).
//!
//! Followed, recursively and with cycle protection:
//! - the stack folder itself, as a tree (Terraform reads every `*.tf`;
//!   `file()`-style functions usually read beside them);
//! - `module` blocks whose `source` is a local path (`./`, `../`, the only
//!   local forms Terraform accepts), in `*.tf` and `*.tf.json`, including
//!   modules that call modules;
//! - in terragrunt files: `include` paths, `dependency.config_path` and
//!   `dependencies.paths` (the dependency stack's own closure: its outputs
//!   feed this stack), `read_terragrunt_config(...)`, `terraform { source }`
//!   when local (`//` sub-folder notation understood), and the
//!   `required_var_files` / `optional_var_files` of `extra_arguments`;
//! - file-reading functions (`file`, `templatefile`, `fileset`, `filebase64`,
//!   `file*sha*`, `filemd5`, `fileexists`, `sops_decrypt_file`,
//!   `read_tfvars_file`) whose path leaves the module folder.
//!
//! Path expressions are evaluated for literals, templates over literals,
//! `path.module` / `path.root` / `path.cwd`, `get_terragrunt_dir()`,
//! `get_parent_terragrunt_dir()`, `find_in_parent_folders([name])`,
//! `path_relative_to_include()`, `path_relative_from_include()`,
//! `get_repo_root()` and `get_path_to_repo_root()`. Anything else (a
//! variable, a local, a conditional) cannot be resolved statically: the
//! stack is then marked [`Closure::unresolved`] and selected by every
//! change, with the reason printed — a missed apply is worse than an extra
//! one.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use hcl::expr::{Expression, FuncCall, TraversalOperator};
use hcl::template::{Element, Template};
use hcl::{Block, Body};

/// The files one stack reads, each with how the stack reaches it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closure {
    /// Folders read as a whole (repo-relative, `/`-separated), with the
    /// chain that leads there.
    pub trees: Vec<(String, String)>,
    /// Single files (repo-relative), with the chain.
    pub files: Vec<(String, String)>,
    /// References that could not be resolved statically (why, where).
    pub unresolved: Vec<String>,
}

impl Closure {
    /// Why a change to `path` (repo-relative) affects this stack, if it
    /// does. Markdown inside a folder is documentation, not configuration.
    pub fn reason(&self, path: &str) -> Option<String> {
        if let Some((_, via)) = self.files.iter().find(|(f, _)| f == path) {
            return Some(via.clone());
        }
        if path.ends_with(".md") {
            return None;
        }
        self.trees
            .iter()
            .find(|(t, _)| {
                t.is_empty()
                    || path
                        .strip_prefix(t.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            })
            .map(|(_, via)| via.clone())
    }
}

/// Computes the closure of the stack in `stack_dir` (inside `root`).
pub fn of_stack(root: &Path, stack_dir: &Path) -> Closure {
    let mut w = Walk {
        root: normalize(root),
        seen: BTreeSet::new(),
        out: Closure::default(),
    };
    w.stack(&normalize(stack_dir), "the stack's own files".into());
    w.out
}

struct Walk {
    root: PathBuf,
    /// Folders and files already followed (cycles, shared modules).
    seen: BTreeSet<PathBuf>,
    out: Closure,
}

/// Where an expression is evaluated.
enum Ctx<'a> {
    /// A Terraform module: `path.module`, `path.root`/`path.cwd` (the stack).
    Terraform { module: &'a Path, stack: &'a Path },
    /// A terragrunt file read for the stack whose folder is `terragrunt`;
    /// `parent` is the folder of the included file being evaluated.
    Terragrunt {
        terragrunt: &'a Path,
        parent: Option<&'a Path>,
    },
}

/// Lexical normalisation: `a/./b/../c` → `a/c` (files may not exist).
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `from` → `to` as a relative path (both normalised, absolute).
pub(crate) fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn label(b: &Block) -> String {
    let labels: Vec<String> = b
        .labels
        .iter()
        .map(|l| format!("{:?}", l.as_str()))
        .collect();
    if labels.is_empty() {
        b.identifier.to_string()
    } else {
        format!("{} {}", b.identifier, labels.join(" "))
    }
}

const FILE_FUNCTIONS: [&str; 13] = [
    "file",
    "fileexists",
    "fileset",
    "filebase64",
    "filemd5",
    "filesha1",
    "filesha256",
    "filesha512",
    "filebase64sha256",
    "filebase64sha512",
    "templatefile",
    "sops_decrypt_file",
    "read_tfvars_file",
];

impl Walk {
    /// Repo-relative form of an absolute path, `None` outside the repo.
    fn rel(&self, p: &Path) -> Option<String> {
        p.strip_prefix(&self.root)
            .ok()
            .map(|r| r.to_string_lossy().into_owned())
    }

    fn show(&self, p: &Path) -> String {
        self.rel(p).unwrap_or_else(|| p.display().to_string())
    }

    fn unresolved(&mut self, what: String) {
        if !self.out.unresolved.contains(&what) {
            self.out.unresolved.push(what);
        }
    }

    /// A stack folder: its Terraform module and its terragrunt.hcl.
    fn stack(&mut self, dir: &Path, via: String) {
        self.module(dir, dir, via.clone());
        let tg = dir.join("terragrunt.hcl");
        if tg.is_file() {
            self.terragrunt_file(&tg, dir, None, via);
        }
    }

    /// A Terraform module folder (read as a tree) and what it calls.
    fn module(&mut self, dir: &Path, stack: &Path, via: String) {
        if !self.seen.insert(dir.to_path_buf()) {
            return;
        }
        match self.rel(dir) {
            Some(r) => self.out.trees.push((r, via.clone())),
            None => return, // outside the repo: no commit can change it here
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let shown = self.show(&f);
            if name.ends_with(".tf") {
                match std::fs::read_to_string(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|t| hcl::parse(&t).map_err(|e| e.to_string()))
                {
                    Ok(body) => {
                        let ctx = Ctx::Terraform { module: dir, stack };
                        self.terraform_body(&body, &ctx, &shown, &via);
                    }
                    Err(e) => self.unresolved(format!("{shown} does not parse as HCL: {e}")),
                }
            } else if name.ends_with(".tf.json") {
                self.terraform_json(&f, dir, stack, &shown, &via);
            }
        }
    }

    fn terraform_body(&mut self, body: &Body, ctx: &Ctx, file: &str, via: &str) {
        let Ctx::Terraform { module, stack } = *ctx else {
            return;
        };
        for b in body.blocks().filter(|b| b.identifier.as_str() == "module") {
            let Some(src) = b.body.attributes().find(|a| a.key.as_str() == "source") else {
                continue;
            };
            let here = format!("{} in {file}", label(b));
            match literal(&src.expr) {
                Some(s) if s.starts_with("./") || s.starts_with("../") => {
                    let target = normalize(&module.join(&s));
                    let chain = format!("{via} → {here}: {s}");
                    self.module(&target, stack, chain);
                }
                Some(_) => {} // registry or remote: pinned in this file
                None => self.unresolved(format!("{here}: source is not a literal string")),
            }
        }
        self.file_calls(body, ctx, file, via);
    }

    fn terraform_json(&mut self, f: &Path, module: &Path, stack: &Path, shown: &str, via: &str) {
        let parsed: Result<serde_json::Value, String> = std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()));
        let json = match parsed {
            Ok(j) => j,
            Err(e) => return self.unresolved(format!("{shown} does not parse as JSON: {e}")),
        };
        let Some(modules) = json.get("module").and_then(|m| m.as_object()) else {
            return;
        };
        for (name, m) in modules {
            match m.get("source").and_then(|s| s.as_str()) {
                Some(s) if s.starts_with("./") || s.starts_with("../") => {
                    let chain = format!("{via} → module {name:?} in {shown}: {s}");
                    self.module(&normalize(&module.join(s)), stack, chain);
                }
                Some(_) => {}
                None => self.unresolved(format!("module {name:?} in {shown}: no literal source")),
            }
        }
    }

    /// A terragrunt file: its includes, dependencies, terraform source,
    /// var files and the files its functions read.
    fn terragrunt_file(
        &mut self,
        file: &Path,
        terragrunt: &Path,
        parent: Option<&Path>,
        via: String,
    ) {
        if !self.seen.insert(file.to_path_buf()) {
            return;
        }
        let shown = self.show(file);
        // Outside the repo no commit can change it, and tg does not read
        // (nor print parse errors of) files beyond the repo.
        let Some(r) = self.rel(file) else {
            return;
        };
        self.out.files.push((r, via.clone()));
        let body = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|t| hcl::parse(&t).map_err(|e| e.to_string()))
        {
            Ok(b) => b,
            Err(e) => return self.unresolved(format!("{shown} cannot be read as HCL: {e}")),
        };
        let ctx = Ctx::Terragrunt { terragrunt, parent };
        for b in body.blocks() {
            let here = format!("{} in {shown}", label(b));
            let attr = |k: &str| {
                b.body
                    .attributes()
                    .find(|a| a.key.as_str() == k)
                    .map(|a| &a.expr)
            };
            match b.identifier.as_str() {
                "include" => match attr("path").map(|e| self.eval(e, &ctx)) {
                    Some(Ok(p)) => {
                        let target = normalize(&terragrunt.join(&p));
                        let dir = target.parent().unwrap_or(&target).to_path_buf();
                        let chain = format!("{via} → {here}");
                        self.terragrunt_file(&target, terragrunt, Some(&dir), chain);
                    }
                    Some(Err(why)) => self.unresolved(format!("{here}: path {why}")),
                    None => self.unresolved(format!("{here}: no path")),
                },
                "dependency" => match attr("config_path").map(|e| self.eval(e, &ctx)) {
                    Some(Ok(p)) => self.dependency(&terragrunt.join(p), &format!("{via} → {here}")),
                    Some(Err(why)) => self.unresolved(format!("{here}: config_path {why}")),
                    None => self.unresolved(format!("{here}: no config_path")),
                },
                "dependencies" => match attr("paths") {
                    Some(Expression::Array(items)) => {
                        for item in items {
                            match self.eval(item, &ctx) {
                                Ok(p) => {
                                    self.dependency(&terragrunt.join(p), &format!("{via} → {here}"))
                                }
                                Err(why) => self.unresolved(format!("{here}: a path {why}")),
                            }
                        }
                    }
                    Some(_) => self.unresolved(format!("{here}: paths is not a list")),
                    None => {}
                },
                "terraform" => {
                    match attr("source").map(|e| self.eval(e, &ctx)) {
                        Some(Ok(s)) if s.starts_with('.') || s.starts_with('/') => {
                            let target = normalize(&terragrunt.join(s.replacen("//", "/", 1)));
                            self.module(&target, terragrunt, format!("{via} → {here}: source {s}"));
                        }
                        Some(Ok(_)) | None => {} // remote: pinned in this file
                        Some(Err(why)) => self.unresolved(format!("{here}: source {why}")),
                    }
                    for extra in b
                        .body
                        .blocks()
                        .filter(|x| x.identifier.as_str() == "extra_arguments")
                    {
                        for key in ["required_var_files", "optional_var_files"] {
                            let Some(list) =
                                extra.body.attributes().find(|a| a.key.as_str() == key)
                            else {
                                continue;
                            };
                            let items: Vec<&Expression> = match &list.expr {
                                Expression::Array(items) => items.iter().collect(),
                                other => vec![other],
                            };
                            for item in items {
                                match self.eval(item, &ctx) {
                                    Ok(p) => self.read_file(
                                        &terragrunt.join(p),
                                        None,
                                        &format!("{via} → {key} in {shown}"),
                                    ),
                                    Err(why) => self.unresolved(format!("{key} in {shown}: {why}")),
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        self.file_calls(&body, &ctx, &shown, &via);
    }

    /// Another stack this one depends on: its whole closure.
    fn dependency(&mut self, dir: &Path, via: &str) {
        let dir = normalize(dir);
        self.stack(&dir, via.to_string());
    }

    /// A file (or with `tree`, a folder) read by a function.
    fn read_file(&mut self, p: &Path, inside: Option<&Path>, via: &str) {
        let p = normalize(p);
        if inside.is_some_and(|m| p.starts_with(m)) {
            return; // already covered by the module's tree
        }
        if let Some(r) = self.rel(&p) {
            if p.is_dir() {
                self.out.trees.push((r, via.to_string()));
            } else {
                self.out.files.push((r, via.to_string()));
            }
        }
    }

    /// Every call in `body` to a function that reads a file, and in
    /// terragrunt files every `read_terragrunt_config`.
    fn file_calls(&mut self, body: &Body, ctx: &Ctx, file: &str, via: &str) {
        let mut calls = Vec::new();
        let mut bad = Vec::new();
        visit_body(body, &mut |c: &FuncCall| calls.push(c.clone()), &mut bad);
        for why in bad {
            self.unresolved(format!("{file}: {why}"));
        }
        for call in calls {
            let name = call.name.name.as_str();
            let is_tg_read =
                name == "read_terragrunt_config" && matches!(ctx, Ctx::Terragrunt { .. });
            if !is_tg_read && !FILE_FUNCTIONS.contains(&name) {
                continue;
            }
            let Some(arg) = call.args.first() else {
                continue;
            };
            let base = match ctx {
                Ctx::Terraform { stack, .. } => *stack,
                Ctx::Terragrunt { terragrunt, .. } => *terragrunt,
            };
            match self.eval(arg, ctx) {
                Ok(p) => {
                    let target = base.join(p);
                    let chain = format!("{via} → {name}() in {file}");
                    if is_tg_read {
                        let t = normalize(&target);
                        let dir = t.parent().unwrap_or(&t).to_path_buf();
                        self.terragrunt_file(&t, &dir, None, chain);
                    } else {
                        let inside = match ctx {
                            Ctx::Terraform { module, .. } => Some(*module),
                            Ctx::Terragrunt { .. } => None,
                        };
                        self.read_file(&target, inside, &chain);
                    }
                }
                Err(why) => self.unresolved(format!("{name}() in {file}: path {why}")),
            }
        }
    }

    /// The string value of a path expression, or why it has none.
    fn eval(&self, e: &Expression, ctx: &Ctx) -> Result<String, String> {
        match e {
            Expression::String(s) => Ok(s.clone()),
            Expression::Parenthesis(inner) => self.eval(inner, ctx),
            Expression::TemplateExpr(t) => {
                let tpl =
                    Template::from_expr(t).map_err(|e| format!("is not a valid template: {e}"))?;
                let mut out = String::new();
                for el in tpl.elements() {
                    match el {
                        Element::Literal(s) => out.push_str(s),
                        Element::Interpolation(i) => out.push_str(&self.eval(&i.expr, ctx)?),
                        Element::Directive(_) => return Err("uses a template directive".into()),
                    }
                }
                Ok(out)
            }
            Expression::Traversal(t) => match (ctx, &t.expr, t.operators.as_slice()) {
                (
                    Ctx::Terraform { module, stack },
                    Expression::Variable(v),
                    [TraversalOperator::GetAttr(a)],
                ) if v.as_str() == "path" => match a.as_str() {
                    "module" => Ok(module.display().to_string()),
                    "root" | "cwd" => Ok(stack.display().to_string()),
                    other => Err(format!("uses path.{other}")),
                },
                _ => Err(format!("uses {} (not known before the run)", short(e))),
            },
            Expression::FuncCall(c) => self.eval_call(c, ctx),
            _ => Err(format!("uses {} (not known before the run)", short(e))),
        }
    }

    fn eval_call(&self, c: &FuncCall, ctx: &Ctx) -> Result<String, String> {
        let name = c.name.name.as_str();
        let Ctx::Terragrunt { terragrunt, parent } = *ctx else {
            return Err(format!("calls {name}()"));
        };
        match name {
            "get_terragrunt_dir" | "get_original_terragrunt_dir" => {
                Ok(terragrunt.display().to_string())
            }
            "get_parent_terragrunt_dir" => Ok(parent.unwrap_or(terragrunt).display().to_string()),
            "get_repo_root" => Ok(self.root.display().to_string()),
            "get_path_to_repo_root" => Ok(relative(terragrunt, &self.root)),
            "path_relative_to_include" => Ok(relative(parent.unwrap_or(terragrunt), terragrunt)),
            "path_relative_from_include" => Ok(relative(terragrunt, parent.unwrap_or(terragrunt))),
            "find_in_parent_folders" => {
                let wanted = match c.args.first() {
                    Some(a) => self.eval(a, ctx)?,
                    None => "terragrunt.hcl".into(),
                };
                terragrunt
                    .ancestors()
                    .skip(1)
                    .take_while(|d| d.starts_with(&self.root))
                    .map(|d| d.join(&wanted))
                    .find(|p| p.exists())
                    .map(|p| p.display().to_string())
                    .ok_or_else(|| format!("finds no {wanted} above {}", self.show(terragrunt)))
            }
            other => Err(format!("calls {other}()")),
        }
    }
}

/// A literal string (Terraform requires `module.source` to be one).
pub(crate) fn literal(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.clone()),
        Expression::TemplateExpr(t) => {
            let tpl = Template::from_expr(t).ok()?;
            match tpl.elements() {
                [Element::Literal(s)] => Some(s.clone()),
                [] => Some(String::new()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A short rendering of an expression for messages.
pub(crate) fn short(e: &Expression) -> String {
    let s = e.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn visit_body(body: &Body, f: &mut dyn FnMut(&FuncCall), bad: &mut Vec<String>) {
    for a in body.attributes() {
        visit(&a.expr, f, bad);
    }
    for b in body.blocks() {
        visit_body(&b.body, f, bad);
    }
}

fn visit_template(t: &Template, f: &mut dyn FnMut(&FuncCall), bad: &mut Vec<String>) {
    for el in t.elements() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => visit(&i.expr, f, bad),
            Element::Directive(d) => match d.as_ref() {
                hcl::template::Directive::If(i) => {
                    visit(&i.cond_expr, f, bad);
                    visit_template(&i.true_template, f, bad);
                    if let Some(t) = &i.false_template {
                        visit_template(t, f, bad);
                    }
                }
                hcl::template::Directive::For(fd) => {
                    visit(&fd.collection_expr, f, bad);
                    visit_template(&fd.template, f, bad);
                }
            },
        }
    }
}

/// Calls `f` for every function call in `e`, nested ones included.
fn visit(e: &Expression, f: &mut dyn FnMut(&FuncCall), bad: &mut Vec<String>) {
    match e {
        Expression::Array(items) => items.iter().for_each(|i| visit(i, f, bad)),
        Expression::Object(o) => {
            for (k, v) in o {
                if let hcl::expr::ObjectKey::Expression(k) = k {
                    visit(k, f, bad);
                }
                visit(v, f, bad);
            }
        }
        Expression::TemplateExpr(t) => match Template::from_expr(t) {
            Ok(tpl) => visit_template(&tpl, f, bad),
            Err(e) => bad.push(format!("a template does not parse: {e}")),
        },
        Expression::Traversal(t) => {
            visit(&t.expr, f, bad);
            for op in &t.operators {
                if let TraversalOperator::Index(i) = op {
                    visit(i, f, bad);
                }
            }
        }
        Expression::FuncCall(c) => {
            f(c);
            c.args.iter().for_each(|a| visit(a, f, bad));
        }
        Expression::Parenthesis(p) => visit(p, f, bad),
        Expression::Conditional(c) => {
            visit(&c.cond_expr, f, bad);
            visit(&c.true_expr, f, bad);
            visit(&c.false_expr, f, bad);
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Unary(u) => visit(&u.expr, f, bad),
            hcl::expr::Operation::Binary(b) => {
                visit(&b.lhs_expr, f, bad);
                visit(&b.rhs_expr, f, bad);
            }
        },
        Expression::ForExpr(fe) => {
            visit(&fe.collection_expr, f, bad);
            if let Some(k) = &fe.key_expr {
                visit(k, f, bad);
            }
            visit(&fe.value_expr, f, bad);
            if let Some(c) = &fe.cond_expr {
                visit(c, f, bad);
            }
        }
        Expression::Null
        | Expression::Bool(_)
        | Expression::Number(_)
        | Expression::String(_)
        | Expression::Variable(_) => {}
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/r/a"), Path::new("/r/a/b/c")), "b/c");
        assert_eq!(relative(Path::new("/r/a/b"), Path::new("/r")), "../..");
        assert_eq!(relative(Path::new("/r"), Path::new("/r")), ".");
        assert_eq!(
            normalize(Path::new("/r/a/./b/../c")),
            PathBuf::from("/r/a/c")
        );
    }

    #[test]
    fn terragrunt_path_functions_in_an_included_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| testsupport::write_file(root, rel, text);
        write(
            "root.hcl",
            "locals {\n  env = read_terragrunt_config(\"${get_parent_terragrunt_dir()}/envs/${path_relative_to_include()}/env.hcl\")\n  shared = read_terragrunt_config(\"${get_terragrunt_dir()}/${get_path_to_repo_root()}/shared.hcl\")\n}\n",
        );
        write("envs/stacks/web/env.hcl", "locals {}\n");
        write("shared.hcl", "locals {}\n");
        write(
            "stacks/web/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        );
        let c = of_stack(root, &root.join("stacks/web"));
        assert!(c.unresolved.is_empty(), "{:?}", c.unresolved);
        let files: Vec<&str> = c.files.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "stacks/web/terragrunt.hcl",
                "root.hcl",
                "envs/stacks/web/env.hcl",
                "shared.hcl"
            ]
        );
        assert!(
            c.reason("envs/stacks/web/env.hcl")
                .unwrap()
                .contains("include \"root\" in stacks/web/terragrunt.hcl")
        );
    }

    #[test]
    fn files_outside_the_repo_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("secret.txt");
        std::fs::write(&outside, "token = s.hunter2 {{ not hcl").unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("stacks/s")).unwrap();
        std::fs::write(
            root.join("stacks/s/terragrunt.hcl"),
            format!("include {{\n  path = \"{}\"\n}}\n", outside.display()),
        )
        .unwrap();
        let c = of_stack(&root, &root.join("stacks/s"));
        assert!(c.unresolved.is_empty(), "never parsed: {:?}", c.unresolved);
        assert_eq!(c.files.len(), 1, "{:?}", c.files);
    }

    #[test]
    fn markdown_in_a_tree_is_not_configuration() {
        let c = Closure {
            trees: vec![("modules/net".into(), "via".into())],
            files: vec![("docs/x.md".into(), "read".into())],
            unresolved: vec![],
        };
        assert!(c.reason("modules/net/main.tf").is_some());
        assert!(c.reason("modules/net/README.md").is_none());
        assert!(c.reason("modules/network/main.tf").is_none());
        assert!(
            c.reason("docs/x.md").is_some(),
            "a file read by name counts"
        );
    }
}
