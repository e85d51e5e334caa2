//! `retention_policy` (plan = the dry run; apply deletes only with
//! `dry_run = false`), and the data sources `retention_image_graph` and
//! `retention_integrity`.

use std::collections::BTreeSet;
use std::sync::Arc;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, DataSource, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use crate::Shared;
use crate::graph::{self, Decision, Policy};

pub struct RetentionPolicy(pub Shared);
pub struct ImageGraph(pub Shared);
pub struct Integrity(pub Shared);

fn strings(v: &Value) -> Vec<String> {
    v.as_list()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `30d`, `12h`, `90m`, `0s`.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    Some(
        n * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            "w" => 604800,
            _ => return None,
        },
    )
}

fn policy_of(v: &Value) -> Result<Policy, Diagnostics> {
    let regexes = |attr: &str| -> Result<Vec<regex::Regex>, Diagnostics> {
        strings(v.get(attr))
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
    Ok(Policy {
        keep_last: v.get("keep_last").as_i64().unwrap_or(10).max(0) as usize,
        always_keep: strings(v.get("always_keep_tags")).into_iter().collect(),
        keep_patterns: regexes("keep_tag_patterns")?,
        delete_patterns: regexes("delete_tag_patterns")?,
        min_age_secs: parse_duration(v.get("min_age").as_str().unwrap_or("0s")).unwrap_or(0),
        protected: strings(v.get("protected_digests")).into_iter().collect(),
    })
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

/// The decision for every selected package, limits applied.
fn compute(
    shared: &Shared,
    v: &Value,
    read: Read,
) -> Result<(Decision, Vec<(String, usize)>), Diagnostics> {
    let c = shared.get()?;
    let owner = v.get("owner").as_str().unwrap_or_default();
    let package = v.get("package").as_str();
    let pkgs = match read {
        Read::Snapshot => c.snapshot(owner, package),
        Read::Fresh => c.graphs(owner, package).map(Arc::new),
    }
    .map_err(|e| Diagnostics::error("Reading the registry failed", e))?;
    let policy = policy_of(v)?;
    let t = now();
    let mut all = Decision::default();
    let mut totals = Vec::new();
    for p in pkgs.iter() {
        let d = graph::decide(p, &policy, t);
        totals.push((p.name.clone(), p.tags.len() + p.untagged.len()));
        all.candidates.extend(d.candidates);
        all.kept.extend(d.kept);
        all.orphans.extend(d.orphans);
    }
    let max = v.get("max_deletions").as_i64().unwrap_or(100).max(0) as usize;
    Ok((graph::limit(all, max), totals))
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
            Attribute::new("owner", Type::String).required().requires_replace().description("User or organization owning the packages."),
            Attribute::new("package", Type::String).optional().requires_replace().description("One container package (exact name); all of the owner's when unset."),
            Attribute::new("keep_last", Type::Number).optional().computed().default(Value::from(10)).description("Keep the newest N images counted by TAG (not raw versions)."),
            Attribute::new("always_keep_tags", Type::set(Type::String)).optional().computed().default(Value::string_set(["latest"])).description("Tags never deleted, however old (a stale `latest` survives)."),
            Attribute::new("keep_tag_patterns", list(Type::String)).optional().computed().default(Value::string_list(["(?i)cache"])).description("Regexes of tags never deleted."),
            Attribute::new("delete_tag_patterns", list(Type::String)).optional().description("Regexes of tags deleted regardless of keep_last (still subject to min_age)."),
            Attribute::new("min_age", Type::String).optional().computed().default(Value::from("0s")).description("Nothing younger is deleted (`7d`, `12h`)."),
            Attribute::new("protected_digests", Type::set(Type::String)).optional().description("Digests never deleted, nor anything they reference."),
            Attribute::new("max_deletions", Type::Number).optional().computed().default(Value::from(100)).description("At most this many versions per run (oldest first; the rest next run)."),
            Attribute::new("max_fraction", Type::Number).optional().computed().default(Value::from(1)).description("Refuse a run that would delete more than this fraction of a package's versions (0-1)."),
            Attribute::new("dry_run", Type::Bool).optional().computed().default(Value::from(true)).description("Plan and report only (the default). Set false to delete."),
            Attribute::new("block_on_orphans", Type::Bool).optional().computed().default(Value::from(true)).description("Refuse to delete while a kept index already misses a child."),
            Attribute::new("candidates", list(candidate_type())).computed().description("What apply would delete: package, version, kind (`tag`/`untagged`), digest, age_days, referenced_by, reason."),
            Attribute::new("kept", list(kept_type())).computed().description("Every kept tag with its reason."),
            Attribute::new("orphans", list(Type::String)).computed().description("Kept indexes whose children are already missing."),
        ])
        .description("A retention policy for an owner's container packages. Plan is the dry run; destroying it only forgets the policy.")
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        if let Some(m) = config.get("min_age").as_str()
            && parse_duration(m).is_none()
        {
            d.push(
                Diagnostic::error("Invalid min_age", "use a number and s/m/h/d/w, e.g. 7d")
                    .at(AttrPath::root().attr("min_age")),
            );
        }
        if let Some(f) = config.get("max_fraction").as_f64()
            && !(0.0..=1.0).contains(&f)
        {
            d.push(
                Diagnostic::error("Invalid max_fraction", "between 0 and 1")
                    .at(AttrPath::root().attr("max_fraction")),
            );
        }
        if let Err(e) = policy_of(config) {
            d.extend(e);
        }
        d
    }

    fn modify_plan(&self, _ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        if !plan.config.is_fully_known() || self.0.get().is_err() {
            return Diagnostics::default();
        }
        let (decision, totals) = match compute(&self.0, &plan.planned, Read::Snapshot) {
            Ok(x) => x,
            Err(d) => return d,
        };
        let owner = plan
            .planned
            .get("owner")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = match plan.planned.get("package").as_str() {
            Some(p) => format!("{owner}/{p}"),
            None => owner.clone(),
        };
        plan.planned = with_decision(
            &plan.planned.clone().with_attr("id", Value::from(id)),
            &decision,
        );
        let deleting =
            plan.planned.get("dry_run").as_bool() == Some(false) && !decision.candidates.is_empty();
        let mut d = Diagnostics::default();
        let flag = |summary: &str, detail: String| {
            if deleting {
                Diagnostic::error(summary, detail)
            } else {
                Diagnostic::warning(summary, detail)
            }
        };
        // The seeds' 403 lesson: a GET-only dry run hid that the token could not delete.
        if let Ok(c) = self.0.get()
            && let Err(e) = crate::permission::check(&c, &owner)
        {
            d.push(flag("Token cannot delete", e).at(AttrPath::root().attr("owner")));
        }
        if !decision.orphans.is_empty()
            && plan.planned.get("block_on_orphans").as_bool() != Some(false)
        {
            d.push(flag("Registry already has orphaned indexes", format!("kept indexes miss children: {}. Fix them (re-push) before deleting more; retention_integrity lists them.", decision.orphans.join(", "))));
        }
        let max_fraction = plan.planned.get("max_fraction").as_f64().unwrap_or(1.0);
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
        let (decision, _) = compute(&self.0, state, Read::Snapshot)?;
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
        if planned.get("dry_run").as_bool() != Some(false) {
            return Ok(planned.clone());
        }
        let c = self.0.get()?;
        let owner = planned
            .get("owner")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (now_decision, _) = compute(&self.0, planned, Read::Fresh)?;
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
        let deleted = Self::delete_candidates(ctx, &c, &owner, &now_decision);
        // A read that overlapped the deletions must not serve a later one.
        c.forget_snapshots();
        deleted?;
        self.verify(&c, &owner, planned.get("package").as_str(), &now_decision)?;
        Ok(planned.clone())
    }
}

impl RetentionPolicy {
    /// Deletes in plan order (tags first); stops on 401/403, on three 5xx in
    /// a row, or on any other unexpected status.
    fn delete_candidates(
        ctx: &Ctx,
        c: &crate::Configured,
        owner: &str,
        decision: &Decision,
    ) -> Result<(), Diagnostics> {
        let mut consecutive_5xx = 0;
        let mut order = decision.candidates.clone();
        order.sort_by_key(|x| (x.kind, x.package.clone(), x.version.clone()));
        for cand in &order {
            ctx.check_stopped()?;
            let status = c
                .delete(owner, &cand.package, &cand.version)
                .map_err(|e| Diagnostics::error("Delete failed", e))?;
            match status {
                200..=299 | 404 => consecutive_5xx = 0,
                401 | 403 => {
                    return Err(Diagnostics::error(
                        "Delete refused",
                        format!(
                            "{}:{} answered {status}: the token may not delete; stopped before anything else",
                            cand.package, cand.version
                        ),
                    ));
                }
                500..=599 => {
                    consecutive_5xx += 1;
                    if consecutive_5xx >= 3 {
                        return Err(Diagnostics::error(
                            "Registry failing",
                            format!(
                                "3 deletions in a row answered 5xx (last: {}:{}); stopped",
                                cand.package, cand.version
                            ),
                        ));
                    }
                }
                s => {
                    return Err(Diagnostics::error(
                        "Delete failed",
                        format!("{}:{} answered {s}", cand.package, cand.version),
                    ));
                }
            }
            std::thread::sleep(c.delete_interval);
        }
        Ok(())
    }

    /// After deleting: every kept tag still resolves (the graph re-read
    /// fetches each tag's manifest) to the digest it had, and every manifest
    /// below it is still listed AND answers a HEAD on `/v2`.
    fn verify(
        &self,
        c: &crate::Configured,
        owner: &str,
        package: Option<&str>,
        decision: &Decision,
    ) -> Result<(), Diagnostics> {
        let broken = |what: String| Diagnostics::error("Kept image broken after deletion", what);
        let graphs = c
            .graphs(owner, package)
            .map_err(|e| Diagnostics::error("Verification failed", e))?;
        let mut children: BTreeSet<(String, String, String)> = BTreeSet::new();
        for k in decision.kept.iter().filter(|k| !k.digest.is_empty()) {
            let p = graphs.iter().find(|p| p.name == k.package);
            let now = p.and_then(|p| p.tags.get(&k.tag)).map(|t| t.0.as_str());
            let (Some(p), Some(now)) = (p, now) else {
                return Err(broken(format!("{}:{} is gone", k.package, k.tag)));
            };
            if now != k.digest {
                return Err(broken(format!(
                    "{}:{} resolves to {now}, not {}",
                    k.package, k.tag, k.digest
                )));
            }
            let listed = p.listed();
            for d in graph::closure(p, [k.digest.clone()]) {
                if d == k.digest {
                    continue;
                }
                if !listed.contains(&d) {
                    return Err(broken(format!(
                        "{}:{} references {d}, which is no longer a package version",
                        k.package, k.tag
                    )));
                }
                children.insert((k.package.clone(), d, k.tag.clone()));
            }
        }
        let children: Vec<_> = children.into_iter().collect();
        let answers = c.parallel(&children, |(pkg, d, _)| c.resolves(owner, pkg, d));
        for ((pkg, d, tag), answer) in children.iter().zip(answers) {
            match answer {
                Ok(true) => {}
                Ok(false) => {
                    return Err(broken(format!(
                        "{pkg}:{tag} references {d}, which no longer answers on /v2"
                    )));
                }
                Err(e) => return Err(Diagnostics::error("Verification failed", e)),
            }
        }
        Ok(())
    }
}

impl DataSource for ImageGraph {
    fn type_name(&self) -> &'static str {
        "retention_image_graph"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("owner", Type::String).required(),
            Attribute::new("package", Type::String)
                .required()
                .description("Container package (exact name)."),
            Attribute::new(
                "tags",
                Type::list(Type::object([
                    ("tag", Type::String),
                    ("digest", Type::String),
                    ("children", Type::list(Type::String)),
                ])),
            )
            .computed()
            .description("Each tag, its digest and the manifests it references (transitively)."),
            Attribute::new("untagged", Type::list(Type::String))
                .computed()
                .description("Untagged versions (`sha256:…`)."),
        ])
        .description("The tag → index → child-manifest graph of one package.")
    }

    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let c = self.0.get()?;
        let owner = config.get("owner").as_str().unwrap_or_default();
        let pkgs = c
            .snapshot(owner, config.get("package").as_str())
            .map_err(|e| Diagnostics::error("Reading the registry failed", e))?;
        let none = graph::Package::default();
        let p = pkgs.first().unwrap_or(&none);
        let tags = p
            .tags
            .iter()
            .map(|(t, (d, _))| {
                let mut kids: Vec<String> = graph::closure(p, [d.clone()])
                    .into_iter()
                    .filter(|x| x != d)
                    .collect();
                kids.sort();
                Value::object([
                    ("tag", Value::from(t.as_str())),
                    ("digest", Value::from(d.as_str())),
                    ("children", Value::string_list(kids)),
                ])
            })
            .collect();
        Ok(config
            .clone()
            .with_attr("tags", Value::List(tags))
            .with_attr("untagged", Value::string_list(p.untagged.keys().cloned())))
    }
}

impl DataSource for Integrity {
    fn type_name(&self) -> &'static str {
        "retention_integrity"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("owner", Type::String).required(),
            Attribute::new("package", Type::String)
                .optional()
                .description("One package (exact name); all when unset."),
            Attribute::new("broken", Type::list(Type::String))
                .computed()
                .description(
                    "`package@index → missing child` for every tagged index missing a child.",
                ),
            Attribute::new("ok", Type::Bool)
                .computed()
                .description("True when nothing is broken (for a `check` block)."),
        ])
        .description("Registry integrity: tagged indexes whose children are missing.")
    }

    fn read(&self, _ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        let c = self.0.get()?;
        let owner = config.get("owner").as_str().unwrap_or_default();
        let pkgs = c
            .snapshot(owner, config.get("package").as_str())
            .map_err(|e| Diagnostics::error("Reading the registry failed", e))?;
        let mut broken = Vec::new();
        for p in pkgs.iter() {
            let present = p.listed();
            for (d, kids) in &p.children {
                for k in kids.iter().filter(|k| !present.contains(k)) {
                    broken.push(format!("{}@{d} → missing {k}", p.name));
                }
            }
        }
        broken.sort();
        Ok(config
            .clone()
            .with_attr("ok", Value::from(broken.is_empty()))
            .with_attr("broken", Value::string_list(broken)))
    }
}
