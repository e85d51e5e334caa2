//! `retention_policy`: plan is the dry run; apply deletes only with
//! `dry_run = false` (see [`crate::deletion`]); destroying it only forgets
//! the policy.

use std::collections::BTreeSet;
use std::sync::Arc;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::duration;
use tfplugin::value::{AttrPath, Type, Value};

use crate::connection::ConnCell;
use crate::deletion;
use crate::graph::{self, Decision, Policy};
use crate::permission;
use crate::validate::{count, forgejo_name, fraction, regexes};

pub struct RetentionPolicy(pub ConnCell);

/// A `retention_policy` as planned or in state, read once its validators
/// passed (defaults are planned by the schema; the fallbacks here only
/// cover a state written without them).
struct Settings {
    owner: String,
    package: Option<String>,
    policy: Policy,
    max_deletions: usize,
    max_fraction: f64,
    dry_run: bool,
    block_on_orphans: bool,
}

fn invalid(attr: &str, detail: String) -> Diagnostics {
    Diagnostic::error(format!("Invalid {attr}"), detail)
        .at(AttrPath::root().attr(attr))
        .into()
}

impl Settings {
    fn read(v: &Value) -> Result<Settings, Diagnostics> {
        let patterns = |attr: &str| -> Result<Vec<regex::Regex>, Diagnostics> {
            v.get(attr)
                .strings()
                .iter()
                .map(|r| {
                    regex::Regex::new(r).map_err(|e| {
                        Diagnostic::error("Invalid regex", format!("{r:?}: {e}"))
                            .at(AttrPath::root().attr(attr))
                            .into()
                    })
                })
                .collect()
        };
        let number = |attr: &str, default: i64| -> Result<usize, Diagnostics> {
            let n = v
                .get(attr)
                .i64_in(0..=i64::MAX)
                .map_err(|e| invalid(attr, e))?;
            Ok(n.unwrap_or(default) as usize)
        };
        let min_age = v
            .get("min_age")
            .duration()
            .map_err(|e| invalid("min_age", e))?
            .unwrap_or_default();
        Ok(Settings {
            owner: v.get("owner").string().unwrap_or_default(),
            package: v.get("package").string(),
            policy: Policy {
                keep_last: number("keep_last", 10)?,
                always_keep: v.get("always_keep_tags").strings().into_iter().collect(),
                keep_patterns: patterns("keep_tag_patterns")?,
                delete_patterns: patterns("delete_tag_patterns")?,
                min_age_secs: min_age.as_secs() as i64,
                protected: v.get("protected_digests").strings().into_iter().collect(),
            },
            max_deletions: number("max_deletions", 100)?,
            max_fraction: v.get("max_fraction").as_f64().unwrap_or(1.0),
            dry_run: v.get("dry_run").as_bool() != Some(false),
            block_on_orphans: v.get("block_on_orphans").as_bool() != Some(false),
        })
    }

    /// `owner` or `owner/package`.
    fn id(&self) -> String {
        match &self.package {
            Some(p) => format!("{}/{p}", self.owner),
            None => self.owner.clone(),
        }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// How [`compute`] reads the registry.
#[derive(Clone, Copy)]
enum Read {
    /// Refresh and plan: the walk's snapshot serves both.
    Snapshot,
    /// Apply: straight from the registry, never a snapshot.
    Fresh,
}

/// The decision for every selected package, limits applied, and each
/// package's number of versions.
fn compute(
    conn: &ConnCell,
    s: &Settings,
    read: Read,
) -> Result<(Decision, Vec<(String, usize)>), Diagnostics> {
    let c = conn.get()?;
    let package = s.package.as_deref();
    let pkgs = match read {
        Read::Snapshot => c.snapshot(&s.owner, package),
        Read::Fresh => c.graphs(&s.owner, package).map(Arc::new),
    }
    .map_err(|e| Diagnostics::error("Reading the registry failed", e))?;
    let t = now();
    let mut all = Decision::default();
    let mut totals = Vec::new();
    for p in pkgs.iter() {
        let d = graph::decide(p, &s.policy, t);
        totals.push((p.name.clone(), p.tags.len() + p.untagged.len()));
        all.candidates.extend(d.candidates);
        all.kept.extend(d.kept);
        all.orphans.extend(d.orphans);
    }
    Ok((graph::limit(all, s.max_deletions), totals))
}

fn candidates_value(d: &Decision, t: i64) -> Value {
    Value::List(
        d.candidates
            .iter()
            .map(|c| {
                Value::object([
                    ("package", Value::from(c.package.as_str())),
                    ("version", Value::from(c.version.as_str())),
                    (
                        "kind",
                        Value::from(if c.kind == 0 { "tag" } else { "untagged" }),
                    ),
                    ("digest", Value::from(c.digest.as_str())),
                    ("age_days", Value::from((t - c.created_at) / 86400)),
                    ("referenced_by", Value::string_list(c.referenced_by.clone())),
                    ("reason", Value::from(c.reason.as_str())),
                ])
            })
            .collect(),
    )
}

fn kept_value(d: &Decision) -> Value {
    Value::List(
        d.kept
            .iter()
            .map(|k| {
                Value::object([
                    ("package", Value::from(k.package.as_str())),
                    ("tag", Value::from(k.tag.as_str())),
                    ("digest", Value::from(k.digest.as_str())),
                    ("reason", Value::from(k.reason.to_string())),
                ])
            })
            .collect(),
    )
}

fn with_decision(v: &Value, d: &Decision) -> Value {
    v.clone()
        .with_attr("candidates", candidates_value(d, now()))
        .with_attr("kept", kept_value(d))
        .with_attr("orphans", Value::string_list(d.orphans.clone()))
}

fn candidate_type() -> Type {
    Type::object([
        ("package", Type::String),
        ("version", Type::String),
        ("kind", Type::String),
        ("digest", Type::String),
        ("age_days", Type::Number),
        ("referenced_by", Type::list(Type::String)),
        ("reason", Type::String),
    ])
}

fn kept_type() -> Type {
    Type::object([
        ("package", Type::String),
        ("tag", Type::String),
        ("digest", Type::String),
        ("reason", Type::String),
    ])
}

impl Resource for RetentionPolicy {
    fn type_name(&self) -> &'static str {
        "retention_policy"
    }

    fn schema(&self) -> Schema {
        let list = |t| Type::list(t);
        Schema::new(vec![
            Attribute::new("id", Type::String).computed().use_state_for_unknown().description("`owner` or `owner/package`."),
            Attribute::new("owner", Type::String).required().validate(forgejo_name()).requires_replace().description("User or organization owning the packages."),
            Attribute::new("package", Type::String).optional().validate(forgejo_name()).requires_replace().description("One container package (exact name); all of the owner's when unset."),
            Attribute::new("keep_last", Type::Number).optional().computed().validate(count()).default(Value::from(10)).description("Keep the newest N images counted by TAG (not raw versions)."),
            Attribute::new("always_keep_tags", Type::set(Type::String)).optional().computed().default(Value::string_set(["latest"])).description("Tags never deleted, however old (a stale `latest` survives)."),
            Attribute::new("keep_tag_patterns", list(Type::String)).optional().computed().validate(regexes()).default(Value::string_list(["(?i)cache"])).description("Regexes of tags never deleted."),
            Attribute::new("delete_tag_patterns", list(Type::String)).optional().validate(regexes()).description("Regexes of tags deleted regardless of keep_last (still subject to min_age)."),
            Attribute::new("min_age", Type::String).optional().computed().validate(duration()).default(Value::from("0s")).description("Nothing younger is deleted (`7d`, `12h`)."),
            Attribute::new("protected_digests", Type::set(Type::String)).optional().description("Digests never deleted, nor anything they reference."),
            Attribute::new("max_deletions", Type::Number).optional().computed().validate(count()).default(Value::from(100)).description("At most this many versions per run (oldest first; the rest next run)."),
            Attribute::new("max_fraction", Type::Number).optional().computed().validate(fraction()).default(Value::from(1)).description("Refuse a run that would delete more than this fraction of a package's versions (0-1)."),
            Attribute::new("dry_run", Type::Bool).optional().computed().default(Value::from(true)).description("Plan and report only (the default). Set false to delete."),
            Attribute::new("block_on_orphans", Type::Bool).optional().computed().default(Value::from(true)).description("Refuse to delete while a kept index already misses a child."),
            Attribute::new("candidates", list(candidate_type())).computed().description("What apply would delete: package, version, kind (`tag`/`untagged`), digest, age_days, referenced_by, reason."),
            Attribute::new("kept", list(kept_type())).computed().description("Every kept tag with its reason."),
            Attribute::new("orphans", list(Type::String)).computed().description("Kept indexes whose children are already missing."),
        ])
        .description("A retention policy for an owner's container packages. Plan is the dry run; destroying it only forgets the policy.")
    }

    fn modify_plan(&self, _ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        let Ok(c) = self.0.get() else {
            return Diagnostics::default();
        };
        if !plan.config.is_fully_known() {
            return Diagnostics::default();
        }
        let s = match Settings::read(&plan.planned) {
            Ok(s) => s,
            Err(d) => return d,
        };
        let (decision, totals) = match compute(&self.0, &s, Read::Snapshot) {
            Ok(x) => x,
            Err(d) => return d,
        };
        plan.planned = with_decision(
            &plan.planned.clone().with_attr("id", Value::from(s.id())),
            &decision,
        );
        let deleting = !s.dry_run && !decision.candidates.is_empty();
        let mut d = Diagnostics::default();
        let flag = |summary: &str, detail: String| {
            if deleting {
                Diagnostic::error(summary, detail)
            } else {
                Diagnostic::warning(summary, detail)
            }
        };
        // The seeds' 403 lesson: a GET-only dry run hid that the token could not delete.
        if let Err(e) = permission::check(&c.client, &s.owner) {
            d.push(flag("Token cannot delete", e).at(AttrPath::root().attr("owner")));
        }
        if !decision.orphans.is_empty() && s.block_on_orphans {
            d.push(flag("Registry already has orphaned indexes", format!("kept indexes miss children: {}. Fix them (re-push) before deleting more; retention_integrity lists them.", decision.orphans.join(", "))));
        }
        let max_fraction = s.max_fraction;
        for (pkg, total) in totals {
            let n = decision
                .candidates
                .iter()
                .filter(|c| c.package == pkg)
                .count();
            if total > 0 && n as f64 / total as f64 > max_fraction {
                d.push(
                    flag(
                        "Too much to delete",
                        format!("{pkg}: {n} of {total} versions (max_fraction {max_fraction})"),
                    )
                    .at(AttrPath::root().attr("max_fraction")),
                );
            }
        }
        d
    }

    fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        self.execute(ctx, planned)
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let (decision, _) = compute(&self.0, &Settings::read(state)?, Read::Snapshot)?;
        Ok(Some(with_decision(state, &decision)))
    }

    fn update(
        &self,
        ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        self.execute(ctx, planned)
    }

    /// Destroying the policy forgets it; it never deletes packages.
    fn delete(&self, _ctx: &Ctx, _prior: &Value) -> Result<(), Diagnostics> {
        Ok(())
    }
}

impl RetentionPolicy {
    /// Deletes the planned candidates (dry_run = false): recompute, refuse
    /// anything outside the plan, tags first, stop on 403 or repeated 5xx,
    /// then verify every kept tag and its children still resolve. A run
    /// killed half-way leaves a registry the next plan converges from.
    fn execute(&self, ctx: &Ctx, planned: &Value) -> Result<Value, Diagnostics> {
        let s = Settings::read(planned)?;
        if s.dry_run {
            return Ok(planned.clone());
        }
        let c = self.0.get()?;
        let (now_decision, _) = compute(&self.0, &s, Read::Fresh)?;
        let planned_set: BTreeSet<(String, String)> = planned
            .get("candidates")
            .as_list()
            .unwrap_or(&[])
            .iter()
            .map(|x| {
                (
                    x.get("package").as_str().unwrap_or_default().to_string(),
                    x.get("version").as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let extra: Vec<String> = now_decision
            .candidates
            .iter()
            .filter(|x| !planned_set.contains(&(x.package.clone(), x.version.clone())))
            .map(|x| format!("{}:{}", x.package, x.version))
            .collect();
        if !extra.is_empty() {
            return Err(Diagnostics::error(
                "Registry changed since the plan",
                format!(
                    "these were not in the plan and would now be deleted: {}. Run plan again.",
                    extra.join(", ")
                ),
            ));
        }
        let deleted = deletion::delete_candidates(ctx, &c, &s.owner, &now_decision);
        // A read that overlapped the deletions must not serve a later one.
        c.forget_snapshots();
        deleted?;
        deletion::verify(&c, &s.owner, s.package.as_deref(), &now_decision)?;
        Ok(planned.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tfplugin::Configured;
    use tfplugin::validation::validate_config;
    use tfplugin::value::Number;

    use super::*;

    /// The schema's validators refuse what the hand-written `validate`
    /// refused (min_age, max_fraction, patterns), with the same summaries,
    /// and what was silently clamped or misread before (negative counts, a
    /// name that could change a URL path), each at its attribute.
    #[test]
    fn every_checked_argument_has_its_validator() {
        let schema = RetentionPolicy(Arc::new(Configured::new("retention"))).schema();
        let base = Value::object([("owner", Value::from("homelab"))]);
        assert!(validate_config(&schema, &base).is_empty());
        let cases = [
            ("min_age", Value::from("1y"), "Invalid min_age", "min_age"),
            (
                "max_fraction",
                Value::Number(Number::parse("1.5").unwrap()),
                "Invalid max_fraction",
                "max_fraction",
            ),
            (
                "keep_tag_patterns",
                Value::string_list(["ok", "("]),
                "Invalid regex",
                "keep_tag_patterns[1]",
            ),
            (
                "delete_tag_patterns",
                Value::string_list(["[z-a]"]),
                "Invalid regex",
                "delete_tag_patterns[0]",
            ),
            (
                "keep_last",
                Value::from(-1),
                "Invalid keep_last",
                "keep_last",
            ),
            (
                "max_deletions",
                Value::Number(Number::parse("2.5").unwrap()),
                "Invalid max_deletions",
                "max_deletions",
            ),
            ("owner", Value::from("../admin"), "Invalid owner", "owner"),
            ("package", Value::from("a?b"), "Invalid package", "package"),
        ];
        for (attr, bad, summary, path) in cases {
            let d = validate_config(&schema, &base.clone().with_attr(attr, bad));
            assert_eq!(d.0.len(), 1, "{attr}: {d:?}");
            assert_eq!(d.0[0].summary, summary, "{attr}");
            assert_eq!(d.0[0].path.as_ref().unwrap().to_string(), path);
        }
        let good = base
            .with_attr("min_age", Value::from("7d"))
            .with_attr("max_fraction", Value::Number(Number::parse("0.5").unwrap()))
            .with_attr("keep_last", Value::from(0))
            .with_attr("package", Value::from("team/web"));
        assert!(validate_config(&schema, &good).is_empty());
    }
}
