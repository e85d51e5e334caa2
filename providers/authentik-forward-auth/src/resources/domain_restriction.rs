//! `fwdauth_domain_restriction`: the one list of host → allowed users/groups
//! rules for a domain, compiled into one Authentik expression policy that is
//! bound to each protected host's own application (`applications`). Authentik
//! runs it when a user is authorized for one of them, with `request.obj` =
//! that application, and the policy finds the host from it (see
//! `host_rules.rs`). The compiled text is known at plan time, so the plan shows
//! exactly which lines change. Import ID: the policy name.
//!
//! Users are listed by username or e-mail address but admitted by primary
//! key: each entry is resolved to exactly one account at plan time and again
//! at apply (`accounts.rs`), recorded in `resolved_users`, and the read
//! refreshes that record (an account deleted since drops out, so the plan
//! resolves the name again and shows the rewrite).
//!
//! Schema version 2. Version 0 bound the policy to one application (`bind_to`,
//! meant for the `forward_domain` provider) and read the host from
//! `X-Forwarded-Host`, which Authentik never sets to the protected host at
//! the point it runs policies; `upgrade_state` carries its binding over so
//! the first apply removes it (see the docs' "Upgrading from version 0").
//! Versions 0 and 1 admitted a user whose username or e-mail address matched
//! an entry at login; their state has no `resolved_users`, so the first plan
//! resolves every entry and rewrites the policy to admit by primary key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::json;
use tfplugin::Configured;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, PlanChange, Resource};
use tfplugin::schema::{Attribute, Nesting, Schema};
use tfplugin::validator::{FnValidator, from_fn, i64_in};
use tfplugin::value::{AttrPath, Type, Value};

use crate::accounts::{self, Account};
use crate::adopt::{self, Create};
use crate::client::{api_diag, enc, js};
use crate::connection::Conn;
use crate::guard;
use crate::host_rules::{self, Rule, UserIds};
use crate::validators::{NoBlankName, host_pattern};

pub struct DomainRestriction {
    pub conn: Arc<Configured<Conn>>,
}

/// A restriction as planned or stored: what the policy and its bindings
/// are made from.
struct Restriction {
    name: String,
    rules: Vec<Rule>,
    default_allow: bool,
    applications: Vec<String>,
    binding_order: i64,
}

impl Restriction {
    fn read(v: &Value) -> Restriction {
        Restriction {
            name: v.get("name").string().unwrap_or_default(),
            rules: v
                .get("rules")
                .as_list()
                .unwrap_or_default()
                .iter()
                .map(|r| Rule {
                    host: r.get("host").string().unwrap_or_default(),
                    users: r.get("users").strings().into_iter().collect(),
                    groups: r.get("groups").strings().into_iter().collect(),
                })
                .collect(),
            default_allow: v.get("default_allow").as_bool().unwrap_or(false),
            applications: v.get("applications").strings(),
            binding_order: v.get("binding_order").as_i64().unwrap_or(0),
        }
    }

    /// The policy text admitting the accounts in `ids`.
    fn expression(&self, ids: &UserIds) -> String {
        host_rules::compile(&self.name, &self.rules, ids, self.default_allow)
    }
}

/// Every account in Authentik, as a diagnostic when the list fails.
fn all_accounts(conn: &Conn) -> Result<Vec<Account>, Diagnostics> {
    accounts::all(&conn.api).map_err(|e| api_diag("Cannot list users", e))
}

/// The accounts the rules' user entries name now, keeping each entry of
/// `prior` (a state value) on its account; see `accounts::resolve`.
fn resolve_users(conn: &Conn, rules: &[Rule], prior: Option<&Value>) -> (UserIds, Diagnostics) {
    let all = match all_accounts(conn) {
        Ok(a) => a,
        Err(d) => return (UserIds::new(), d),
    };
    let kept = prior
        .map(|p| accounts::from_state(p.get("resolved_users")))
        .unwrap_or_default();
    accounts::resolve(&all, rules, &kept)
}

/// `name`: ExpressionPolicyRequest.name is not blank, and is stored with
/// its surrounding white space stripped (DRF CharField), which would read
/// back as another name.
fn policy_name() -> FnValidator {
    from_fn("a name without surrounding white space", |v, _| {
        match v.as_str() {
            Some(n) if n.trim().is_empty() || n.trim() != n => Err(format!(
                "name {n:?} must be non-empty without white space at its start or end: Authentik strips it when it stores the policy, so the name read back would differ."
            )),
            _ => Ok(()),
        }
    })
}

/// Why an empty `applications` is refused.
const NO_APPLICATIONS: &str = "applications is empty: the rules would be enforced nowhere. List the slugs of the fwdauth_protected_host resources they protect.";

/// `applications`: at least one (see also [`no_empty_slug`]).
fn application_slugs() -> FnValidator {
    from_fn("a non-empty set of slugs", |v, _| {
        if v.as_list().is_some_and(<[Value]>::is_empty) {
            return Err(NO_APPLICATIONS.into());
        }
        Ok(())
    })
    .summary("No applications")
}

/// `applications`: no empty slug.
fn no_empty_slug() -> FnValidator {
    from_fn("no empty slug", |v, _| {
        if v.as_list()
            .unwrap_or_default()
            .iter()
            .any(|s| s.as_str() == Some(""))
        {
            Err("applications holds an empty string.".into())
        } else {
            Ok(())
        }
    })
    .summary("Empty application slug")
}

/// The `bindings` map of a state value: application slug → binding pk.
fn bindings(v: &Value) -> BTreeMap<String, String> {
    v.get("bindings")
        .as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, b)| Some((k.clone(), b.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn bindings_value(m: &BTreeMap<String, String>) -> Value {
    Value::Map(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect(),
    )
}

impl DomainRestriction {
    /// The apply-time checks: every guarded application exists and can be
    /// guarded, every rule guards one, every group exists. Returns the
    /// guarded applications and the primary key each user entry names: the
    /// plan's, which the user approved (Terraform re-plans just before the
    /// apply and refuses a plan whose keys changed since), or, when the plan
    /// could not know them (configuration unknown then), resolved now.
    fn checked(
        &self,
        conn: &Conn,
        planned: &Value,
        prior: Option<&Value>,
        policy_pk: &str,
    ) -> Result<(Vec<guard::Guarded>, UserIds), Diagnostics> {
        let want = Restriction::read(planned);
        let mut d = groups_exist(conn, &want.rules);
        let at_plan = planned.get("resolved_users");
        let resolved = if at_plan.is_fully_known() && !at_plan.is_null() {
            accounts::from_state(at_plan)
        } else {
            let (resolved, more) = resolve_users(conn, &want.rules, prior);
            d.extend(more);
            resolved
        };
        let (found, more) = guard::check(
            conn,
            &want.applications,
            &want.rules,
            want.default_allow,
            policy_pk,
            true,
        )?;
        d.extend(more);
        match found {
            Some(found) if !d.has_errors() => Ok((found, resolved)),
            _ => Err(d),
        }
    }

    /// Makes the bindings of `planned` exist: keeps those in `have` that
    /// still fit, removes the rest, binds the missing applications.
    fn sync(
        &self,
        conn: &Conn,
        policy_pk: &str,
        guarded: &[guard::Guarded],
        have: BTreeMap<String, String>,
        order: i64,
        keep_existing: bool,
    ) -> Result<BTreeMap<String, String>, Diagnostics> {
        let mut out = BTreeMap::new();
        for (slug, pk) in have {
            if keep_existing && guarded.iter().any(|g| g.slug == slug) {
                out.insert(slug, pk);
                continue;
            }
            conn.api
                .delete(
                    &format!("policies/bindings/{pk}/"),
                    &format!("binding of the restriction policy to application {slug:?}"),
                )
                .map_err(|e| api_diag("Cannot remove policy binding", e))?;
        }
        for g in guarded {
            if out.contains_key(&g.slug) {
                continue;
            }
            // Adopt a binding of ours already there (state dropped it, see read).
            let existing = conn
                .api
                .list(
                    "policies/bindings/",
                    &format!("policy={}&target={}", enc(policy_pk), enc(&g.pk)),
                    &format!("bindings of the restriction policy on {:?}", g.slug),
                )
                .map_err(|e| api_diag("Cannot read policy bindings", e))?;
            if let Some(b) = existing.iter().find(|b| {
                b["policy"].as_str() == Some(policy_pk)
                    && b["target"].as_str() == Some(g.pk.as_str())
                    && b["order"].as_i64() == Some(order)
            }) {
                out.insert(g.slug.clone(), js(b, "pk"));
                continue;
            }
            let b = adopt::create(
                &conn.api,
                &Create {
                    collection: "policies/bindings/",
                    body: &json!({"policy": policy_pk, "target": g.pk, "order": order, "enabled": true, "negate": false, "timeout": 30}),
                    what: &format!("binding of the restriction policy to application {:?}", g.slug),
                    summary: "Cannot bind restriction policy",
                    query: format!("policy={}", enc(policy_pk)),
                    key: &["policy", "target", "order"],
                    import: "the binding belongs to the fwdauth_domain_restriction that owns the policy: terraform import <its address> <policy name>".into(),
                },
            )?;
            out.insert(g.slug.clone(), js(&b, "pk"));
        }
        Ok(out)
    }
}

/// Every group a rule names exists in Authentik (users: `accounts::resolve`).
fn groups_exist(conn: &Conn, rules: &[Rule]) -> Diagnostics {
    let mut d = Diagnostics::default();
    for (i, r) in rules.iter().enumerate() {
        let at = |a: &str| AttrPath::root().attr("rules").index(i as i64).attr(a);
        for g in &r.groups {
            match conn.group_pk(g) {
                Ok(Some(_)) => {}
                Ok(None) => d.push(
                    Diagnostic::error(
                        format!("Group {g:?} not found"),
                        format!("the rule for {:?} admits group {g:?}, which does not exist in Authentik.", r.host),
                    )
                    .at(at("groups")),
                ),
                Err(e) => d.push(Diagnostic::error("Cannot look up groups", e.to_string())),
            }
        }
    }
    d
}

impl Resource for DomainRestriction {
    fn type_name(&self) -> &'static str {
        "fwdauth_domain_restriction"
    }

    fn schema(&self) -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown()
                .description("UUID of the expression policy."),
            Attribute::new("name", Type::String)
                .required()
                .validate(policy_name())
                .description("Name of the expression policy (unique in Authentik), e.g. `admin-services-restriction`."),
            Attribute::nested(
                "rules",
                Nesting::List,
                vec![
                    Attribute::new("host", Type::String)
                        .required()
                        .validate(host_pattern())
                        .description("Lower-case RFC 1123 host `app.example.com`, `label.*` (that first label on any domain) or `*.suffix` (any host under the suffix)."),
                    Attribute::new("users", Type::set(Type::String))
                        .optional()
                        .validate(NoBlankName)
                        .description("Users admitted to this host, each written as a username or an e-mail address that names exactly one Authentik account (username exactly, or e-mail address ignoring case; none or several fail the plan). The policy admits the account's primary key, never the name: Authentik lets a new account take any free username, including another user's e-mail address, and keeps e-mail addresses neither unique nor verified. `resolved_users` shows which account each entry names."),
                    Attribute::new("groups", Type::set(Type::String))
                        .optional()
                        .validate(NoBlankName)
                        .description("Groups whose members (and members of their child groups) are admitted to this host (each must exist)."),
                ],
            )
            .required()
            .description("Host rules. The first match decides (exact hosts, then `label.*`, then `*.suffix` with the longest suffix first); a matching host admits only the users and groups listed. Each rule must name at least one user or group and match at least one application in `applications`."),
            Attribute::new("default_allow", Type::Bool)
                .optional()
                .computed()
                .default(Value::from(false))
                .description("Whether a guarded application whose host no rule matches admits every user (default false: it denies). What the policy cannot decide (no application, no provider, a malformed host, a user without an integer primary key or with neither username nor e-mail) denies regardless."),
            Attribute::new("applications", Type::set(Type::String))
                .required()
                .validate(application_slugs())
                .validate(no_empty_slug())
                .description("Slugs of the applications the policy is bound to: the `fwdauth_protected_host`s (single-host, `forward_single`) these rules protect, e.g. `[fwdauth_protected_host.chrome.slug]`. A `forward_domain` application is refused."),
            Attribute::new("binding_order", Type::Number)
                .optional()
                .computed()
                .default(Value::from(0i64))
                // PolicyBindingRequest.order is an int32 in Authentik's
                // OpenAPI document.
                .validate(i64_in(i64::from(i32::MIN)..=i64::from(i32::MAX)))
                .description("Order of the bindings (default 0)."),
            Attribute::new("bindings", Type::map(Type::String))
                .computed()
                .description("Application slug → UUID of the policy binding on it."),
            Attribute::new("resolved_users", Type::map(Type::Number))
                .computed()
                .description("Each entry of the rules' `users` → the primary key (`pk`) of the Authentik account it names, which is what the policy admits. An entry keeps its account while that account exists: when the name later leads to another live account, the plan fails instead of moving the grant; an account deleted since drops out on refresh, and the plan resolves the name again and shows the new key."),
            Attribute::new("expression", Type::String)
                .computed()
                .description("The compiled policy text (Python), known at plan time."),
        ])
        .version(2)
        .description("The per-host forward-auth restrictions of a domain in one place: host → allowed users/groups rules compiled into one Authentik expression policy, bound to each protected host's own application.")
    }

    /// The checks across rules (each attribute's own are the schema's
    /// validators): no host twice, and each rule names someone.
    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        let mut seen = BTreeSet::new();
        for (i, r) in config
            .get("rules")
            .as_list()
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let at = AttrPath::root().attr("rules").index(i as i64);
            if let Some(h) = r.get("host").as_str()
                && !seen.insert(h.to_string())
            {
                d.push(
                    Diagnostic::error(
                        "Duplicate host rule",
                        format!("host {h:?} appears in more than one rule"),
                    )
                    .at(at.clone().attr("host")),
                );
            }
            let known_empty = ["users", "groups"].iter().all(|attr| {
                let v = r.get(attr);
                v.is_fully_known() && v.strings().is_empty()
            });
            if known_empty {
                d.push(
                    Diagnostic::error(
                        "Rule admits nobody",
                        format!(
                            "the rule for {:?} lists no users and no groups; name who may reach the host.",
                            r.get("host").as_str().unwrap_or_default()
                        ),
                    )
                    .at(at),
                );
            }
        }
        d
    }

    /// Resolves every user entry to its account, compiles the expression,
    /// and checks, against Authentik, every group and guarded application
    /// (those created in the same run are checked at apply, before anything
    /// is written).
    fn modify_plan(&self, _ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        if plan.planned.is_null() || !plan.config.is_fully_known() {
            return Diagnostics::default();
        }
        let conn = match self.conn.get() {
            Ok(c) => c,
            Err(d) => return d,
        };
        let want = Restriction::read(&plan.planned);
        let mut d = groups_exist(&conn, &want.rules);
        let (resolved, more) = resolve_users(&conn, &want.rules, plan.prior.as_ref());
        d.extend(more);
        let policy_pk = plan
            .prior
            .as_ref()
            .and_then(|p| p.get("id").as_str())
            .unwrap_or_default()
            .to_string();
        match guard::check(
            &conn,
            &want.applications,
            &want.rules,
            want.default_allow,
            &policy_pk,
            false,
        ) {
            Ok((_, more)) => d.extend(more),
            Err(e) => d.extend(e),
        }
        let mut planned = plan
            .planned
            .clone()
            .with_attr("resolved_users", accounts::to_state(&resolved))
            .with_attr("expression", Value::from(want.expression(&resolved)));
        let want: BTreeSet<String> = want.applications.into_iter().collect();
        let unchanged = plan.prior.as_ref().is_some_and(|p| {
            p.get("binding_order") == plan.planned.get("binding_order")
                && bindings(p).keys().cloned().collect::<BTreeSet<_>>() == want
        });
        planned = match plan.prior.as_ref().filter(|_| unchanged) {
            Some(prior) => planned.with_attr("bindings", prior.get("bindings").clone()),
            // New, changed, or a binding deleted outside Terraform: bound on apply.
            None => planned.with_attr("bindings", Value::Unknown),
        };
        plan.planned = planned;
        d
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let (guarded, resolved) = self.checked(&conn, planned, None, "")?;
        let want = Restriction::read(planned);
        let name = &want.name;
        let text = want.expression(&resolved);
        let p = adopt::create(
            &conn.api,
            &Create {
                collection: "policies/expression/",
                body: &json!({"name": name, "expression": text, "execution_logging": false}),
                what: &format!("expression policy {name:?}"),
                summary: "Cannot create expression policy",
                query: format!("name={}", enc(name)),
                key: &["name"],
                import: format!(
                    "terraform import <address of this fwdauth_domain_restriction> {name}"
                ),
            },
        )?;
        let pk = js(&p, "pk");
        let order = want.binding_order;
        let bound = match self.sync(&conn, &pk, &guarded, BTreeMap::new(), order, false) {
            Ok(b) => b,
            Err(d) => {
                // Deleting the policy deletes the bindings made so far.
                conn.api
                    .delete(&format!("policies/expression/{pk}/"), "rollback")
                    .ok();
                return Err(d);
            }
        };
        Ok(planned
            .clone()
            .with_attr("id", Value::from(pk))
            .with_attr("resolved_users", accounts::to_state(&resolved))
            .with_attr("expression", Value::from(text))
            .with_attr("bindings", bindings_value(&bound)))
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let conn = self.conn.get()?;
        let pk = state.get("id").as_str().unwrap_or_default();
        let Some(p) = conn.api.read(
            &format!("policies/expression/{pk}/"),
            &format!("expression policy {pk}"),
            "Cannot read expression policy",
        )?
        else {
            return Ok(None);
        };
        let mut live = BTreeMap::new();
        for (slug, binding) in bindings(state) {
            let b = conn.api.read(
                &format!("policies/bindings/{binding}/"),
                &format!("binding {binding} of policy {pk}"),
                "Cannot read policy binding",
            )?;
            // A binding removed outside Terraform drops out: the plan re-creates
            // it. So does one on an application that now admits around the
            // rules (other bindings in "any" mode, e.g. allowed_groups added
            // later): the plan then shows a change, and its apply re-checks
            // and refuses, instead of every plan passing with a warning.
            if b.is_some_and(|b| b["policy"].as_str() == Some(pk))
                && !guard::bypassed(&conn, &slug, pk)?
            {
                live.insert(slug, binding);
            }
        }
        // Each recorded account as it is now; a deleted one drops out, so the
        // plan resolves its entry again and shows the policy's rewrite (the
        // stored text admits the old primary key, which nobody holds).
        let recorded = accounts::from_state(state.get("resolved_users"));
        let resolved_users = if recorded.is_empty() {
            state.get("resolved_users").clone()
        } else {
            let all = all_accounts(&conn)?;
            let live: UserIds = recorded
                .into_iter()
                .filter(|(_, pk)| all.iter().any(|a| a.pk == *pk))
                .collect();
            accounts::to_state(&live)
        };
        Ok(Some(
            state
                .clone()
                .with_attr("name", Value::from(js(&p, "name")))
                .with_attr("resolved_users", resolved_users)
                .with_attr("expression", Value::from(js(&p, "expression")))
                .with_attr("bindings", bindings_value(&live)),
        ))
    }

    fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let pk = prior.get("id").as_str().unwrap_or_default().to_string();
        let (guarded, resolved) = self.checked(&conn, planned, Some(prior), &pk)?;
        let want = Restriction::read(planned);
        let name = &want.name;
        let text = want.expression(&resolved);
        conn.api
            .patch(
                &format!("policies/expression/{pk}/"),
                &json!({"name": name, "expression": text}),
                &format!("expression policy {name:?}"),
            )
            .map_err(|e| api_diag("Cannot update expression policy", e))?;
        let same_order = prior.get("binding_order") == planned.get("binding_order");
        let bound = self.sync(
            &conn,
            &pk,
            &guarded,
            bindings(prior),
            want.binding_order,
            same_order,
        )?;
        Ok(planned
            .clone()
            .with_attr("resolved_users", accounts::to_state(&resolved))
            .with_attr("expression", Value::from(text))
            .with_attr("bindings", bindings_value(&bound)))
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let conn = self.conn.get()?;
        let pk = prior.get("id").as_str().unwrap_or_default();
        // Deleting the policy deletes its bindings too.
        conn.api
            .delete(
                &format!("policies/expression/{pk}/"),
                &format!("expression policy {pk}"),
            )
            .map_err(|e| api_diag("Cannot delete expression policy", e))
    }

    /// Import ID: the policy name. The applications come from its bindings;
    /// rules cannot be recovered from Python, so the first apply after
    /// import rewrites the expression from `rules`.
    fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let conn = self.conn.get()?;
        let found = conn
            .api
            .list(
                "policies/expression/",
                &format!("name={}", enc(id)),
                &format!("expression policy {id:?}"),
            )
            .map_err(|e| api_diag("Cannot look up policy", e))?;
        let Some(p) = found.into_iter().find(|p| p["name"].as_str() == Some(id)) else {
            return Err(Diagnostics::error(
                "Cannot import domain restriction",
                format!("No expression policy named {id:?}. The import ID is the policy name."),
            ));
        };
        let pk = js(&p, "pk");
        let bound = conn
            .api
            .list(
                "policies/bindings/",
                &format!("policy={}", enc(&pk)),
                &format!("bindings of policy {id:?}"),
            )
            .map_err(|e| api_diag("Cannot read policy bindings", e))?;
        let apps = conn
            .api
            .list("core/applications/", "", "application list")
            .map_err(|e| api_diag("Cannot list applications", e))?;
        let mut map = BTreeMap::new();
        let mut order = 0;
        for b in &bound {
            if let Some(app) = apps.iter().find(|a| a["pk"] == b["target"]) {
                map.insert(js(app, "slug"), js(b, "pk"));
                order = b["order"].as_i64().unwrap_or(0);
            }
        }
        Ok(Value::object([
            ("id", Value::from(pk)),
            ("name", Value::from(id)),
            ("rules", Value::List(vec![])),
            ("default_allow", Value::from(false)),
            ("applications", Value::string_set(map.keys().cloned())),
            ("binding_order", Value::from(order)),
            ("bindings", bindings_value(&map)),
            ("resolved_users", Value::Map(BTreeMap::new())),
            ("expression", Value::from(js(&p, "expression"))),
        ]))
    }

    /// Version 0 → 1: `bind_to` + `binding_id` become `applications` +
    /// `bindings`, so the old binding (on the domain-level application) is
    /// known and the first apply removes it when the configuration no longer
    /// lists that application. The stored `default_allow` is kept: version 0
    /// defaulted it to true, so a configuration that does not set it plans
    /// `true -> false`, visibly.
    ///
    /// Version 1 → 2: the stored policy admitted users by username or e-mail
    /// address at login. `resolved_users` starts out null (no entry has an
    /// account yet), so the first plan resolves every entry, fails on names
    /// that are missing or ambiguous, and rewrites `expression` to admit by
    /// primary key.
    fn upgrade_state(
        &self,
        _ctx: &Ctx,
        from_version: i64,
        raw: &serde_json::Value,
    ) -> Result<Value, Diagnostics> {
        if from_version != 0 && from_version != 1 {
            return Err(Diagnostics::error(
                "Unknown state version",
                format!(
                    "fwdauth_domain_restriction has no schema version {from_version} to upgrade from (this provider writes version 2)."
                ),
            ));
        }
        let mut j = raw.clone();
        let Some(obj) = j.as_object_mut() else {
            return Err(Diagnostics::error(
                "Stored state is not an object",
                format!(
                    "fwdauth_domain_restriction version {from_version} state must be a JSON object."
                ),
            ));
        };
        obj.insert("resolved_users".into(), serde_json::Value::Null);
        if from_version == 1 {
            return self.decode_state(&j);
        }
        let bind_to = obj.remove("bind_to");
        let binding_id = obj.remove("binding_id");
        let slug = bind_to
            .as_ref()
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty());
        let mut applications = Vec::new();
        let mut map = serde_json::Map::new();
        if let Some(slug) = slug {
            applications.push(json!(slug));
            if let Some(b) = binding_id
                .as_ref()
                .and_then(|v| v.as_str())
                .filter(|b| !b.is_empty())
            {
                map.insert(slug.to_string(), json!(b));
            }
        }
        obj.insert("applications".into(), json!(applications));
        obj.insert("bindings".into(), serde_json::Value::Object(map));
        self.decode_state(&j)
    }
}

impl DomainRestriction {
    /// Upgraded state JSON as a value of the current schema.
    fn decode_state(&self, j: &serde_json::Value) -> Result<Value, Diagnostics> {
        tfplugin::value::from_json(j, &self.schema().value_type(), true).map_err(|e| {
            Diagnostics::error(
                "Cannot upgrade fwdauth_domain_restriction state",
                e.to_string(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource() -> DomainRestriction {
        DomainRestriction {
            conn: Arc::new(Configured::new("fwdauth")),
        }
    }

    #[test]
    fn version_0_state_upgrades_with_its_binding() {
        let v0 = json!({
            "id": "p1", "name": "admin-services-restriction",
            "rules": [{"host": "chrome.*", "users": ["akadmin"], "groups": null}],
            "default_allow": true, "bind_to": "domain", "binding_order": 0,
            "binding_id": "b1", "expression": "old",
        });
        let v = resource().upgrade_state(&Ctx::for_tests(), 0, &v0).unwrap();
        assert_eq!(v.get("applications"), &Value::string_set(["domain"]));
        assert_eq!(
            bindings(&v),
            BTreeMap::from([("domain".to_string(), "b1".to_string())])
        );
        assert_eq!(v.get("default_allow").as_bool(), Some(true));
        assert_eq!(Restriction::read(&v).rules[0].host, "chrome.*");
        let unbound = json!({"id": "p1", "name": "x", "rules": [], "default_allow": true,
                             "bind_to": null, "binding_order": 0, "binding_id": "", "expression": ""});
        let v = resource()
            .upgrade_state(&Ctx::for_tests(), 0, &unbound)
            .unwrap();
        assert!(bindings(&v).is_empty());
        assert!(v.get("resolved_users").is_null());
        assert!(resource().upgrade_state(&Ctx::for_tests(), 7, &v0).is_err());
    }

    #[test]
    fn version_1_state_upgrades_with_no_accounts_yet() {
        let v1 = json!({
            "id": "p1", "name": "admin-services-restriction",
            "rules": [{"host": "chrome.*", "users": ["vbarzin@gmail.com"], "groups": null}],
            "default_allow": false, "applications": ["chrome"], "binding_order": 0,
            "bindings": {"chrome": "b1"}, "expression": "old",
        });
        let v = resource().upgrade_state(&Ctx::for_tests(), 1, &v1).unwrap();
        assert!(v.get("resolved_users").is_null());
        assert_eq!(bindings(&v)["chrome"], "b1");
        assert_eq!(v.get("expression").as_str(), Some("old"));
        assert_eq!(
            Restriction::read(&v).rules[0].users,
            BTreeSet::from(["vbarzin@gmail.com".to_string()])
        );
        let err = resource()
            .upgrade_state(&Ctx::for_tests(), 2, &v1)
            .unwrap_err();
        assert!(err.0[0].detail.contains("writes version 2"), "{err:?}");
    }

    fn config(rules: serde_json::Value, apps: serde_json::Value) -> Value {
        let j = json!({"id": null, "name": "r", "rules": rules, "default_allow": null,
                       "applications": apps, "binding_order": null, "bindings": null,
                       "resolved_users": null, "expression": null});
        tfplugin::value::from_json(&j, &resource().schema().value_type(), false).unwrap()
    }

    /// What ValidateResourceConfig runs: the schema's validators, then the
    /// resource's own checks.
    fn validate(config: &Value) -> Diagnostics {
        let r = resource();
        let mut d = tfplugin::validation::validate_config(&r.schema(), config);
        d.extend(r.validate(config));
        d
    }

    #[test]
    fn validation_names_the_attribute() {
        let d = validate(&config(
            json!([
                {"host": "Chrome.example.com", "users": ["a"], "groups": null},
                {"host": "k8s.example.com", "users": [""], "groups": null},
                {"host": "x.*.y", "users": null, "groups": null},
            ]),
            json!([]),
        ));
        let at: Vec<String> =
            d.0.iter()
                .map(|x| format!("{} @ {:?}", x.summary, x.path))
                .collect();
        assert_eq!(d.0.len(), 5, "{at:#?}");
        assert!(d.0[0].detail.contains("lower case"), "{at:#?}");
        assert!(
            at.iter().any(|a| a.starts_with("Empty name in users")),
            "{at:#?}"
        );
        assert!(
            at.iter().any(|a| a.starts_with("Rule admits nobody")),
            "{at:#?}"
        );
        assert!(
            at.iter().any(|a| a.starts_with("No applications")),
            "{at:#?}"
        );
        assert!(d.0.iter().all(|x| x.path.is_some()), "{at:#?}");
    }
}
