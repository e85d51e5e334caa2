//! Where a stack's state goes, and the refusal when that is not where its
//! tier says.
//!
//! Every Tier-1 stack keeps its state in its own schema of the state
//! database through the `pg` backend (the seeds' "Two-Tier Backend":
//! "Each stack gets its own PG schema"). Nothing else enforces that: with
//! `TG_ENGINE=terraform|tofu` the root's Terragrunt `remote_state` is never
//! read, and a stack without a `backend "pg"` block silently keeps a
//! plaintext `terraform.tfstate` in the working tree. So before a verb that
//! reads or writes state, tg establishes the stack's *effective* backend by
//! parsing its HCL (never by matching text):
//!
//! - terraform / tofu: the `terraform { backend "..." }` block of the
//!   stack's root module (`*.tf`, `*.tf.json`; `override.tf` and
//!   `*_override.tf` files win, as Terraform merges them);
//! - terragrunt: a `remote_state` block (`backend`, `config.schema_name`),
//!   else a `generate` block whose `contents` hold a backend block, in the
//!   stack's `terragrunt.hcl` or a file it includes (the stack's own wins);
//!   with neither, the stack folder's `*.tf` as above.
//!
//! and refuses, naming the file and the fix, when that backend is not `pg`,
//! has no literal `schema_name` (the default `terraform_remote_state`, or
//! `PG_SCHEMA_NAME`, would be one schema for every such stack), carries a
//! `conn_str` (credentials in git, and another database escapes the
//! uniqueness check), shares its schema with another Tier-1 stack, or
//! disagrees with what `.terraform/` was initialised with; and when a
//! plaintext `terraform.tfstate`, `terraform.tfstate.backup` or
//! `terraform.tfstate.d/` sits in the stack folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::expr::{Expression, FuncCall, TraversalOperator};
use hcl::template::{Element, Template};
use hcl::{Block, Body};

use crate::args::EngineKind;
use crate::ci::closure::{normalize, relative};
use crate::error::TgError;
use crate::repo::{Repo, Stack};

/// Verbs that read or write a stack's state: the ones the check runs for.
/// `init` is one only when it copies state into the configured backend
/// ([`INIT_MIGRATES`]); `fmt`, `validate`, `version`, `providers`, ... do
/// not touch state.
pub const STATE_VERBS: [&str; 12] = [
    "plan",
    "apply",
    "destroy",
    "refresh",
    "import",
    "output",
    "console",
    "taint",
    "untaint",
    "state",
    "show",
    "force-unlock",
];

/// `init` flags that copy the existing state into the configured backend.
pub const INIT_MIGRATES: [&str; 2] = ["-migrate-state", "-force-copy"];

/// Plaintext state files Terraform's default `local` backend writes in the
/// working folder.
pub const PLAINTEXT: [&str; 3] = [
    "terraform.tfstate",
    "terraform.tfstate.backup",
    "terraform.tfstate.d",
];

/// A stack's backend as the engine will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    /// `pg`, `local`, `s3`, ...; `None`: no backend block, so `local`.
    pub kind: Option<String>,
    /// `schema_name` when given (literal or evaluated).
    pub schema: Option<String>,
    /// A `conn_str` is written in the configuration.
    pub conn_str: bool,
    /// The file that declares it (repo-relative), or the stack folder.
    pub file: String,
    /// The engine has configuration to run here: `*.tf`/`*.tf.json`, or
    /// with terragrunt a `terragrunt.hcl`. A folder without any cannot
    /// plan or apply, so it creates no state to misplace.
    pub configured: bool,
}

impl Effective {
    /// One line: `pg, schema app_config (stacks/app-config/main.tf)`.
    pub fn describe(&self) -> String {
        match (&self.kind, &self.schema) {
            (None, _) if !self.configured => format!("no configuration ({})", self.file),
            (None, _) => format!("no backend block: local state ({})", self.file),
            (Some(k), Some(s)) => format!("{k}, schema {s} ({})", self.file),
            (Some(k), None) => format!("{k} ({})", self.file),
        }
    }
}

/// The effective backend of the stack in `dir`, or why tg cannot tell.
pub fn effective(root: &Path, dir: &Path, engine: EngineKind) -> Result<Effective, String> {
    let root = normalize(root);
    let dir = normalize(dir);
    if engine == EngineKind::Terragrunt {
        if let Some(found) = terragrunt_backend(&root, &dir)? {
            return Ok(found);
        }
        let mut e = terraform_backend(&root, &dir)?;
        // terragrunt runs the module its `terraform { source }` names.
        e.configured |= dir.join("terragrunt.hcl").is_file();
        return Ok(e);
    }
    terraform_backend(&root, &dir)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_else(|_| p.display().to_string())
}

/// The backend block of the root module in `dir` (terraform/tofu).
fn terraform_backend(root: &Path, dir: &Path) -> Result<Effective, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (n.ends_with(".tf") || n.ends_with(".tf.json")) && p.is_file()
        })
        .collect();
    // Terraform reads override files after the others; their blocks win.
    let is_override = |p: &PathBuf| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let stem = n.trim_end_matches(".json").trim_end_matches(".tf");
        stem == "override" || stem.ends_with("_override")
    };
    files.sort_by_key(|p| (is_override(p), p.clone()));
    let mut found: Option<Effective> = None;
    for f in &files {
        let shown = rel(root, f);
        let text = std::fs::read_to_string(f).map_err(|e| format!("cannot read {shown}: {e}"))?;
        let blocks = if shown.ends_with(".json") {
            json_backends(&text).map_err(|e| format!("{shown} does not parse as JSON: {e}"))?
        } else {
            let body = hcl::parse(&text).map_err(|e| format!("{shown} does not parse: {e}"))?;
            hcl_backends(&body, &|e| literal(e))?
        };
        for b in blocks {
            if found.is_some() && !is_override(f) {
                return Err(format!(
                    "{shown} declares a second backend block (Terraform refuses more than one)"
                ));
            }
            found = Some(Effective {
                file: shown.clone(),
                ..b
            });
        }
    }
    Ok(found.unwrap_or_else(|| Effective {
        kind: None,
        schema: None,
        conn_str: false,
        file: rel(root, dir),
        configured: !files.is_empty(),
    }))
}

/// `terraform { backend "X" { ... } }` blocks in a parsed body; string
/// values through `value` (literals for Terraform, evaluated for
/// terragrunt's generated files).
fn hcl_backends(
    body: &Body,
    value: &dyn Fn(&Expression) -> Result<String, String>,
) -> Result<Vec<Effective>, String> {
    let mut out = Vec::new();
    for t in body
        .blocks()
        .filter(|b| b.identifier.as_str() == "terraform")
    {
        for b in t.body.blocks() {
            let kind = match b.identifier.as_str() {
                "backend" => b.labels.first().map(|l| l.as_str().to_string()),
                "cloud" => Some("cloud".to_string()),
                _ => continue,
            };
            let schema = attr(b, "schema_name")
                .map(|e| value(e).map_err(|why| format!("schema_name {why}")))
                .transpose()?;
            out.push(Effective {
                kind,
                schema,
                conn_str: attr(b, "conn_str").is_some(),
                file: String::new(),
                configured: true,
            });
        }
    }
    Ok(out)
}

/// The same from a `.tf.json` file (`terraform` as an object or a list).
fn json_backends(text: &str) -> Result<Vec<Effective>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let terraform: Vec<&serde_json::Value> = match v.get("terraform") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(t) => vec![t],
        None => vec![],
    };
    let mut out = Vec::new();
    for t in terraform {
        let Some(backends) = t.get("backend").and_then(|b| b.as_object()) else {
            continue;
        };
        for (kind, cfg) in backends {
            let cfg = match cfg {
                serde_json::Value::Array(a) => a.first().cloned().unwrap_or_default(),
                c => c.clone(),
            };
            let schema = match cfg.get("schema_name") {
                None => None,
                Some(serde_json::Value::String(s)) if !s.contains("${") => Some(s.clone()),
                Some(_) => return Err("schema_name is not a literal string".into()),
            };
            out.push(Effective {
                kind: Some(kind.clone()),
                schema,
                conn_str: cfg.get("conn_str").is_some(),
                file: String::new(),
                configured: true,
            });
        }
    }
    Ok(out)
}

fn attr<'a>(b: &'a Block, key: &str) -> Option<&'a Expression> {
    b.body
        .attributes()
        .find(|a| a.key.as_str() == key)
        .map(|a| &a.expr)
}

/// A literal string (Terraform allows nothing else in a backend block).
fn literal(e: &Expression) -> Result<String, String> {
    match e {
        Expression::String(s) => Ok(s.clone()),
        Expression::TemplateExpr(t) => {
            let tpl = Template::from_expr(t).map_err(|e| format!("is not a valid string: {e}"))?;
            match tpl.elements() {
                [Element::Literal(s)] => Ok(s.clone()),
                [] => Ok(String::new()),
                _ => Err("is not a literal string".into()),
            }
        }
        _ => Err(format!("is not a literal string ({e})")),
    }
}

/// terragrunt: `remote_state` / `generate` in the stack's terragrunt.hcl
/// and the files it includes; `None` when neither declares a backend.
fn terragrunt_backend(root: &Path, dir: &Path) -> Result<Option<Effective>, String> {
    let own = dir.join("terragrunt.hcl");
    if !own.is_file() {
        return Ok(None);
    }
    let body = parse_file(root, &own)?;
    let mut found: Option<Effective> = None;
    // Included files first: the stack's own blocks override theirs.
    for inc in body.blocks().filter(|b| b.identifier.as_str() == "include") {
        let scope = Scope::new(root, dir, None, &body);
        let Some(path) = attr(inc, "path") else {
            return Err(format!("include in {}: no path", rel(root, &own)));
        };
        let p = scope
            .eval(path)
            .map_err(|why| format!("include in {}: path {why}", rel(root, &own)))?;
        let file = normalize(&dir.join(p));
        let parent = file.parent().unwrap_or(&file).to_path_buf();
        let inc_body = parse_file(root, &file)?;
        let scope = Scope::new(root, dir, Some(&parent), &inc_body);
        if let Some(e) = declared(root, &file, &inc_body, &scope)? {
            found = Some(e);
        }
    }
    let scope = Scope::new(root, dir, None, &body);
    if let Some(e) = declared(root, &own, &body, &scope)? {
        found = Some(e);
    }
    Ok(found)
}

fn parse_file(root: &Path, file: &Path) -> Result<Body, String> {
    let shown = rel(root, file);
    if !file.starts_with(root) {
        return Err(format!("{shown} is outside the repo"));
    }
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    hcl::parse(&text).map_err(|e| format!("{shown} does not parse: {e}"))
}

/// The backend one terragrunt file declares: `remote_state` wins over a
/// generated backend block.
fn declared(
    root: &Path,
    file: &Path,
    body: &Body,
    scope: &Scope,
) -> Result<Option<Effective>, String> {
    let shown = rel(root, file);
    let eval = |e: &Expression| scope.eval(e);
    if let Some(rs) = body
        .blocks()
        .find(|b| b.identifier.as_str() == "remote_state")
    {
        let kind = attr(rs, "backend")
            .map(|e| eval(e).map_err(|why| format!("remote_state in {shown}: backend {why}")))
            .transpose()?;
        let (schema, conn_str) = match attr(rs, "config") {
            Some(Expression::Object(o)) => {
                let get = |k: &str| {
                    o.iter()
                        .find(|(key, _)| object_key(key).as_deref() == Some(k))
                        .map(|(_, v)| v)
                };
                let schema = get("schema_name")
                    .map(|e| {
                        eval(e).map_err(|why| format!("remote_state in {shown}: schema_name {why}"))
                    })
                    .transpose()?;
                (schema, get("conn_str").is_some())
            }
            Some(_) => {
                return Err(format!(
                    "remote_state in {shown}: config is not an object tg can read"
                ));
            }
            None => (None, false),
        };
        return Ok(Some(Effective {
            kind,
            schema,
            conn_str,
            file: shown,
            configured: true,
        }));
    }
    for g in body
        .blocks()
        .filter(|b| b.identifier.as_str() == "generate")
    {
        let Some(contents) = attr(g, "contents") else {
            continue;
        };
        let text =
            eval(contents).map_err(|why| format!("{} in {shown}: contents {why}", label(g)))?;
        let Ok(generated) = hcl::parse(&text) else {
            continue; // not HCL (a generated script, JSON, ...): no backend
        };
        if let Some(b) = hcl_backends(&generated, &|e| literal(e))?.pop() {
            return Ok(Some(Effective { file: shown, ..b }));
        }
    }
    Ok(None)
}

fn object_key(k: &hcl::expr::ObjectKey) -> Option<String> {
    match k {
        hcl::expr::ObjectKey::Identifier(i) => Some(i.as_str().to_string()),
        hcl::expr::ObjectKey::Expression(Expression::String(s)) => Some(s.clone()),
        hcl::expr::ObjectKey::Expression(Expression::Variable(v)) => Some(v.as_str().to_string()),
        _ => None,
    }
}

fn label(b: &Block) -> String {
    match b.labels.first() {
        Some(l) => format!("{} {:?}", b.identifier, l.as_str()),
        None => b.identifier.to_string(),
    }
}

/// Evaluates the string expressions a backend configuration holds in a
/// terragrunt file: literals, templates, `local.*` of the same file,
/// terragrunt's path functions and a few string functions. Anything else
/// is not known before the run and is reported as such.
struct Scope<'a> {
    root: &'a Path,
    /// The stack folder (`get_terragrunt_dir()`).
    terragrunt: &'a Path,
    /// The folder of the included file being evaluated.
    parent: Option<&'a Path>,
    locals: BTreeMap<String, Expression>,
}

impl<'a> Scope<'a> {
    fn new(root: &'a Path, terragrunt: &'a Path, parent: Option<&'a Path>, body: &Body) -> Self {
        let locals = body
            .blocks()
            .filter(|b| b.identifier.as_str() == "locals")
            .flat_map(|b| b.body.attributes())
            .map(|a| (a.key.to_string(), a.expr.clone()))
            .collect();
        Scope {
            root,
            terragrunt,
            parent,
            locals,
        }
    }

    fn eval(&self, e: &Expression) -> Result<String, String> {
        self.eval_depth(e, 0)
    }

    fn eval_depth(&self, e: &Expression, depth: usize) -> Result<String, String> {
        if depth > 32 {
            return Err("nests too deep (a local refers to itself?)".into());
        }
        match e {
            Expression::String(s) => Ok(s.clone()),
            Expression::Parenthesis(inner) => self.eval_depth(inner, depth + 1),
            Expression::TemplateExpr(t) => {
                let tpl =
                    Template::from_expr(t).map_err(|e| format!("is not a valid template: {e}"))?;
                let mut out = String::new();
                for el in tpl.elements() {
                    match el {
                        Element::Literal(s) => out.push_str(s),
                        Element::Interpolation(i) => {
                            out.push_str(&self.eval_depth(&i.expr, depth + 1)?)
                        }
                        Element::Directive(_) => return Err("uses a template directive".into()),
                    }
                }
                Ok(out)
            }
            Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
                (Expression::Variable(v), [TraversalOperator::GetAttr(name)])
                    if v.as_str() == "local" =>
                {
                    let expr = self
                        .locals
                        .get(name.as_str())
                        .ok_or_else(|| format!("uses local.{name}, which is not defined"))?;
                    self.eval_depth(expr, depth + 1)
                }
                _ => Err(format!("uses {e} (not known before the run)")),
            },
            Expression::FuncCall(c) => self.call(c, depth),
            _ => Err(format!("uses {e} (not known before the run)")),
        }
    }

    fn arg(&self, c: &FuncCall, i: usize, depth: usize) -> Result<String, String> {
        let a = c
            .args
            .get(i)
            .ok_or_else(|| format!("calls {}() with too few arguments", c.name.name))?;
        self.eval_depth(a, depth + 1)
    }

    fn call(&self, c: &FuncCall, depth: usize) -> Result<String, String> {
        let here = self.parent.unwrap_or(self.terragrunt);
        let s = |p: &Path| p.display().to_string();
        match c.name.name.as_str() {
            "get_terragrunt_dir" | "get_original_terragrunt_dir" => Ok(s(self.terragrunt)),
            "get_parent_terragrunt_dir" => Ok(s(here)),
            "get_repo_root" => Ok(s(self.root)),
            "get_path_to_repo_root" => Ok(relative(self.terragrunt, self.root)),
            "get_path_from_repo_root" => Ok(relative(self.root, self.terragrunt)),
            "path_relative_to_include" => Ok(relative(here, self.terragrunt)),
            "path_relative_from_include" => Ok(relative(self.terragrunt, here)),
            "find_in_parent_folders" => {
                let wanted = match c.args.first() {
                    Some(_) => self.arg(c, 0, depth)?,
                    None => "terragrunt.hcl".into(),
                };
                self.terragrunt
                    .ancestors()
                    .skip(1)
                    .take_while(|d| d.starts_with(self.root))
                    .map(|d| d.join(&wanted))
                    .find(|p| p.exists())
                    .map(|p| s(&p))
                    .ok_or_else(|| format!("finds no {wanted} above the stack"))
            }
            "basename" => Ok(Path::new(&self.arg(c, 0, depth)?)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()),
            "dirname" => Ok(Path::new(&self.arg(c, 0, depth)?)
                .parent()
                .map(s)
                .unwrap_or_default()),
            "lower" => Ok(self.arg(c, 0, depth)?.to_lowercase()),
            "upper" => Ok(self.arg(c, 0, depth)?.to_uppercase()),
            "trimspace" => Ok(self.arg(c, 0, depth)?.trim().to_string()),
            "trimprefix" => {
                let (v, p) = (self.arg(c, 0, depth)?, self.arg(c, 1, depth)?);
                Ok(v.strip_prefix(p.as_str()).unwrap_or(&v).to_string())
            }
            "trimsuffix" => {
                let (v, p) = (self.arg(c, 0, depth)?, self.arg(c, 1, depth)?);
                Ok(v.strip_suffix(p.as_str()).unwrap_or(&v).to_string())
            }
            "replace" => {
                let (v, from, to) = (
                    self.arg(c, 0, depth)?,
                    self.arg(c, 1, depth)?,
                    self.arg(c, 2, depth)?,
                );
                if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
                    return Err(format!(
                        "calls replace() with the regular expression {from}"
                    ));
                }
                Ok(v.replace(&from, &to))
            }
            other => Err(format!("calls {other}() (not evaluated by tg)")),
        }
    }
}

/// A PostgreSQL identifier tg accepts as a schema name: the pg backend
/// puts it into SQL, and unquoted identifiers fold to lower case, so two
/// names are the same schema when they are equal ignoring case.
fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

/// Plaintext state files in the stack folder (a symlink counts, even a
/// dangling one: the engine would write through it).
pub fn plaintext_files(dir: &Path) -> Vec<&'static str> {
    PLAINTEXT
        .iter()
        .copied()
        .filter(|f| dir.join(f).symlink_metadata().is_ok())
        .collect()
}

/// Every Tier-1 stack's effective backend (or why tg cannot tell).
pub fn tier1_backends(repo: &Repo, engine: EngineKind) -> Vec<(Stack, Result<Effective, String>)> {
    repo.stacks()
        .into_iter()
        .filter(|s| !s.tier0)
        .map(|s| {
            let e = effective(&repo.root, &s.dir, engine);
            (s, e)
        })
        .collect()
}

/// What is wrong with a Tier-1 stack's backend, given every Tier-1
/// stack's (for the shared-schema rule): the cause and the fix, or `None`.
pub fn problem(
    stack: &Stack,
    eff: &Result<Effective, String>,
    all: &[(Stack, Result<Effective, String>)],
) -> Option<String> {
    let name = &stack.name;
    let eff = match eff {
        Ok(e) => e,
        Err(why) => {
            return Some(format!(
                "tg cannot establish the backend of the Tier-1 stack {name}: {why}.\nFix: declare `backend \"pg\" {{ schema_name = \"<own schema>\" }}` with a literal schema_name (or, with terragrunt, a remote_state whose schema_name uses only literals, locals and the path functions)."
            ));
        }
    };
    let fix = format!(
        "Fix: declare in {}:\n  terraform {{\n    backend \"pg\" {{\n      schema_name = \"{}\"\n    }}\n  }}\n(the connection string comes from PG_CONN_STR / Vault, never from the file), then `tg init --stack {name} -migrate-state`.",
        if eff.kind.is_none() {
            format!("stacks/{name}/ (e.g. backend.tf)")
        } else {
            eff.file.clone()
        },
        name.replace('-', "_")
    );
    match eff.kind.as_deref() {
        Some("pg") => {}
        None if !eff.configured => return None,
        None => {
            return Some(format!(
                "the Tier-1 stack {name} declares no backend ({}): terraform would keep its state as a plaintext terraform.tfstate in the stack folder, not in PostgreSQL.\n{fix}",
                eff.file
            ));
        }
        Some(k) => {
            return Some(format!(
                "the Tier-1 stack {name} uses the {k:?} backend ({}): Tier-1 state belongs in PostgreSQL, in the stack's own schema.\n{fix}",
                eff.file
            ));
        }
    }
    if eff.conn_str {
        return Some(format!(
            "the pg backend of {name} ({}) sets conn_str: credentials do not belong in git, and another database escapes the one-schema-per-stack check.\nFix: remove conn_str; tg hands terraform PG_CONN_STR (from Vault database/static-creds/pg-terraform-state).",
            eff.file
        ));
    }
    let Some(schema) = &eff.schema else {
        return Some(format!(
            "the pg backend of {name} ({}) names no schema_name: it would use the default schema terraform_remote_state (or $PG_SCHEMA_NAME), shared by every such stack.\nFix: add `schema_name = \"{}\"` (a schema of its own) to that backend block, then `tg init --stack {name} -reconfigure`.",
            eff.file,
            name.replace('-', "_")
        ));
    };
    if !valid_schema(schema) {
        return Some(format!(
            "the pg backend of {name} ({}) names the schema {schema:?}: tg accepts letters, digits and _ (not starting with a digit, at most 63).\nFix: rename it, then `tg init --stack {name} -migrate-state`.",
            eff.file
        ));
    }
    let others: Vec<String> = all
        .iter()
        .filter(|(s, _)| s.name != stack.name)
        .filter_map(|(s, e)| match e {
            Ok(o)
                if o.kind.as_deref() == Some("pg")
                    && o.schema
                        .as_deref()
                        .is_some_and(|x| x.eq_ignore_ascii_case(schema)) =>
            {
                Some(format!("{} ({})", s.name, o.file))
            }
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        return Some(format!(
            "the Tier-1 stack {name} ({}) shares the schema {schema} with {}: one stack's state would overwrite the other's.\nFix: give each stack its own schema_name, then `tg init -migrate-state` in the one that moves.",
            eff.file,
            others.join(", ")
        ));
    }
    None
}

/// What `.terraform/` was initialised with (terraform/tofu keep the
/// backend they set up in `.terraform/terraform.tfstate`): `(type, schema)`.
fn initialised(dir: &Path) -> Option<(String, Option<String>)> {
    let data = std::env::var("TF_DATA_DIR")
        .ok()
        .filter(|d| !d.is_empty())
        .map(|d| dir.join(d))
        .unwrap_or_else(|| dir.join(".terraform"));
    let text = std::fs::read_to_string(data.join("terraform.tfstate")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let b = v.get("backend")?;
    Some((
        b.get("type")?.as_str()?.to_string(),
        b.get("config")
            .and_then(|c| c.get("schema_name"))
            .and_then(|s| s.as_str())
            .map(str::to_string),
    ))
}

/// The check `tg <verb>` runs on a Tier-1 stack before the engine: refuses
/// (nothing runs) when the state would go anywhere but the stack's own
/// schema, or plaintext state lies in the stack folder.
pub fn check_tier1(
    repo: &Repo,
    stack: &Stack,
    engine: EngineKind,
    args: &[String],
) -> Result<(), TgError> {
    let verb = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
        .unwrap_or("");
    let migrates = verb == "init" && args.iter().any(|a| INIT_MIGRATES.contains(&a.as_str()));
    if stack.tier0 || !(STATE_VERBS.contains(&verb) || migrates) {
        return Ok(());
    }
    let all = tier1_backends(repo, engine);
    let own = effective(&repo.root, &stack.dir, engine);
    let refuse = |msg: String| {
        TgError::Usage(format!(
            "refusing `{verb}` on stacks/{}: {msg}\nNothing was run.",
            stack.name
        ))
    };
    if let Some(msg) = problem(stack, &own, &all) {
        return Err(refuse(msg));
    }
    // `init -migrate-state` is how a local terraform.tfstate gets into
    // the pg backend: the plaintext it moves is not refused.
    if migrates {
        return Ok(());
    }
    let stray = plaintext_files(&stack.dir);
    if !stray.is_empty() {
        let list: Vec<String> = stray
            .iter()
            .map(|f| format!("stacks/{}/{f}", stack.name))
            .collect();
        return Err(refuse(format!(
            "plaintext state in the working tree: {} (one `git add -A` commits it, secrets included).\nFix: if it is this stack's state from before the pg backend, run `tg init --stack {} -migrate-state` (terraform copies it into the schema), check `tg state list --stack {}`, then delete it; otherwise delete it.",
            list.join(", "),
            stack.name,
            stack.name
        )));
    }
    if engine != EngineKind::Terragrunt
        && let (Ok(eff), Some((kind, schema))) = (&own, initialised(&stack.dir))
        && (Some(&kind) != eff.kind.as_ref() || (schema.is_some() && schema != eff.schema))
    {
        return Err(refuse(format!(
            "stacks/{}/.terraform was initialised for the {kind} backend{}, but the configuration says {}.\nFix: `tg init --stack {} -migrate-state` (or -reconfigure when the state is already there).",
            stack.name,
            schema.map(|s| format!(" (schema {s})")).unwrap_or_default(),
            eff.describe(),
            stack.name
        )));
    }
    Ok(())
}

/// `tg doctor`'s lines: each stack's tier, backend and schema; `false`
/// when any Tier-1 stack's state would go elsewhere.
pub fn doctor(repo: Option<&Repo>) -> bool {
    let Some(repo) = repo else {
        println!("SKIP backends: not in a repo");
        return true;
    };
    let engine = crate::engine::Engine::choose()
        .map(|e| e.kind)
        .unwrap_or(EngineKind::Terraform);
    let all = tier1_backends(repo, engine);
    let mut ok = true;
    for s in repo.stacks() {
        if s.tier0 {
            println!(
                "PASS backend {}: Tier-0, SOPS-encrypted state in git ({})",
                s.name,
                rel(&repo.root, &repo.encrypted_state_path(&s.name))
            );
            continue;
        }
        let eff = effective(&repo.root, &s.dir, engine);
        let stray = plaintext_files(&s.dir);
        match problem(&s, &eff, &all) {
            Some(msg) => {
                ok = false;
                println!(
                    "FAIL backend {}: Tier-1, {}",
                    s.name,
                    msg.replace('\n', "\n     ")
                );
            }
            None if !stray.is_empty() => {
                ok = false;
                println!(
                    "FAIL backend {}: Tier-1, plaintext state in the stack folder: {}",
                    s.name,
                    stray.join(", ")
                );
            }
            None => println!(
                "PASS backend {}: Tier-1, {}",
                s.name,
                eff.map(|e| e.describe()).unwrap_or_default()
            ),
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            testsupport::write_file(dir.path(), rel, text);
        }
        dir
    }

    #[test]
    fn terragrunt_remote_state_with_path_functions() {
        let d = repo_with(&[
            (
                "terragrunt.hcl",
                "locals {\n  prefix = \"tf\"\n}\nremote_state {\n  backend = \"pg\"\n  config = {\n    schema_name = \"${local.prefix}_${replace(path_relative_to_include(), \"/\", \"_\")}\"\n  }\n}\n",
            ),
            (
                "stacks/web-app/terragrunt.hcl",
                "include \"root\" {\n  path = find_in_parent_folders()\n}\n",
            ),
            (
                "stacks/web-app/main.tf",
                "resource \"terraform_data\" \"x\" {}\n",
            ),
        ]);
        let root = d.path();
        let e = effective(root, &root.join("stacks/web-app"), EngineKind::Terragrunt).unwrap();
        assert_eq!(e.kind.as_deref(), Some("pg"));
        assert_eq!(e.schema.as_deref(), Some("tf_stacks_web-app"));
        assert_eq!(e.file, "terragrunt.hcl");
        // The same stack run by terraform: the root config is never read.
        let e = effective(root, &root.join("stacks/web-app"), EngineKind::Terraform).unwrap();
        assert_eq!(e.kind, None);
    }

    #[test]
    fn terragrunt_generate_block_and_the_stacks_own_override() {
        let d = repo_with(&[
            (
                "terragrunt.hcl",
                "generate \"backend\" {\n  path = \"backend.tf\"\n  if_exists = \"overwrite_terragrunt\"\n  contents = <<EOF\nterraform {\n  backend \"pg\" {\n    schema_name = \"${basename(get_terragrunt_dir())}\"\n  }\n}\nEOF\n}\n",
            ),
            (
                "stacks/a/terragrunt.hcl",
                "include {\n  path = find_in_parent_folders()\n}\n",
            ),
            (
                "stacks/b/terragrunt.hcl",
                "include {\n  path = find_in_parent_folders()\n}\nremote_state {\n  backend = \"local\"\n  config = {}\n}\n",
            ),
        ]);
        let root = d.path();
        let a = effective(root, &root.join("stacks/a"), EngineKind::Terragrunt).unwrap();
        assert_eq!(
            (a.kind.as_deref(), a.schema.as_deref()),
            (Some("pg"), Some("a"))
        );
        let b = effective(root, &root.join("stacks/b"), EngineKind::Terragrunt).unwrap();
        assert_eq!(b.kind.as_deref(), Some("local"));
        assert_eq!(b.file, "stacks/b/terragrunt.hcl");
    }

    #[test]
    fn terraform_override_files_and_json() {
        let d = repo_with(&[
            (
                "stacks/s/main.tf",
                "terraform {\n  backend \"local\" {}\n}\n",
            ),
            (
                "stacks/s/backend_override.tf",
                "terraform {\n  backend \"pg\" {\n    schema_name = \"s\"\n  }\n}\n",
            ),
            (
                "stacks/j/main.tf.json",
                "{\"terraform\": {\"backend\": {\"pg\": {\"schema_name\": \"j\", \"conn_str\": \"postgres://u:p@h/db\"}}}}",
            ),
            (
                "stacks/two/a.tf",
                "terraform {\n  backend \"pg\" {\n    schema_name = \"two\"\n  }\n}\n",
            ),
            (
                "stacks/two/b.tf",
                "terraform {\n  backend \"pg\" {\n    schema_name = \"other\"\n  }\n}\n",
            ),
            (
                "stacks/var/main.tf",
                "terraform {\n  backend \"pg\" {\n    schema_name = var.schema\n  }\n}\n",
            ),
        ]);
        let root = d.path();
        let s = effective(root, &root.join("stacks/s"), EngineKind::Terraform).unwrap();
        assert_eq!(s.schema.as_deref(), Some("s"));
        assert_eq!(s.file, "stacks/s/backend_override.tf");
        let j = effective(root, &root.join("stacks/j"), EngineKind::Tofu).unwrap();
        assert!(j.conn_str);
        assert!(
            effective(root, &root.join("stacks/two"), EngineKind::Terraform)
                .unwrap_err()
                .contains("second backend block")
        );
        assert!(
            effective(root, &root.join("stacks/var"), EngineKind::Terraform)
                .unwrap_err()
                .contains("not a literal")
        );
    }

    #[test]
    fn schema_names() {
        assert!(valid_schema("app_config"));
        assert!(valid_schema("_x1"));
        assert!(!valid_schema("1x"));
        assert!(!valid_schema("a-b"));
        assert!(!valid_schema("a\"; DROP SCHEMA x; --"));
        assert!(!valid_schema(""));
    }
}
