//! `fwdauth_domain_restriction`: host → allowed users/groups rules compiled
//! into one expression policy, optionally bound to the application of the
//! domain-level provider. The compiled text is known at plan time, so the plan
//! shows exactly which lines change. Import ID: the policy name.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, PlanChange, Resource};
use tfplugin::schema::{Attribute, Nesting, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use crate::client::enc;
use crate::policy::{self, Rule};
use crate::provider::{Shared, api_diag, js};

pub struct DomainRestriction {
    pub shared: Arc<Shared>,
}

fn set_of(v: &Value) -> BTreeSet<String> {
    v.as_list()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn rules(v: &Value) -> Vec<Rule> {
    v.get("rules")
        .as_list()
        .unwrap_or_default()
        .iter()
        .map(|r| Rule {
            host: r.get("host").as_str().unwrap_or_default().to_string(),
            users: set_of(r.get("users")),
            groups: set_of(r.get("groups")),
        })
        .collect()
}

fn expression(v: &Value) -> String {
    policy::compile(
        v.get("name").as_str().unwrap_or_default(),
        &rules(v),
        v.get("default_allow").as_bool().unwrap_or(true),
    )
}

impl DomainRestriction {
    /// Removes the prior binding, then binds the policy to application `slug`
    /// (none when empty); returns the new binding pk or "".
    fn rebind(
        &self,
        policy_pk: &str,
        prior_binding: &str,
        slug: &str,
        order: i64,
    ) -> Result<String, Diagnostics> {
        let conn = self.shared.conn()?;
        if !prior_binding.is_empty() {
            conn.api
                .delete(
                    &format!("policies/bindings/{prior_binding}/"),
                    &format!("binding {prior_binding} of the restriction policy"),
                )
                .map_err(|e| api_diag("Cannot remove policy binding", e))?;
        }
        if slug.is_empty() {
            return Ok(String::new());
        }
        let app = conn
            .api
            .get(
                &format!("core/applications/{}/", enc(slug)),
                &format!("application {slug:?} (bind_to)"),
            )
            .map_err(|e| api_diag("Cannot find the bind_to application", e))?;
        let b = conn
            .api
            .post(
                "policies/bindings/",
                &json!({"policy": policy_pk, "target": js(&app, "pk"), "order": order, "enabled": true, "negate": false, "timeout": 30}),
                &format!("binding of the restriction policy to application {slug:?}"),
            )
            .map_err(|e| api_diag("Cannot bind restriction policy", e))?;
        Ok(js(&b, "pk"))
    }
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
                .description("Name of the expression policy (unique in Authentik), e.g. `admin-services-restriction`."),
            Attribute::nested(
                "rules",
                Nesting::List,
                vec![
                    Attribute::new("host", Type::String)
                        .required()
                        .description("`app.example.com`, `chrome.*` (that first label on any domain) or `*.example.com`."),
                    Attribute::new("users", Type::set(Type::String))
                        .optional()
                        .description("Usernames or e-mail addresses admitted to this host."),
                    Attribute::new("groups", Type::set(Type::String))
                        .optional()
                        .description("Groups admitted to this host."),
                ],
            )
            .required()
            .description("Host rules. The first match decides (exact hosts, then `label.*`, then `*.suffix`); a matching host admits only the users and groups listed."),
            Attribute::new("default_allow", Type::Bool)
                .optional()
                .computed()
                .default(Value::from(true))
                .description("Whether hosts no rule matches are admitted (default true: the application's own bindings decide)."),
            Attribute::new("bind_to", Type::String)
                .optional()
                .description("Slug of the application to bind the policy to (the `forward_domain` provider's application)."),
            Attribute::new("binding_order", Type::Number)
                .optional()
                .computed()
                .default(Value::from(0i64))
                .description("Order of the binding (default 0)."),
            Attribute::new("binding_id", Type::String)
                .computed()
                .description("UUID of the binding (empty when not bound)."),
            Attribute::new("expression", Type::String)
                .computed()
                .description("The compiled policy text (Python), known at plan time."),
        ])
        .description("The domain-wide forward-auth restriction: host → allowed users/groups rules compiled into one Authentik expression policy.")
    }

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
            let Some(h) = r.get("host").as_str() else {
                continue;
            };
            let at = AttrPath::root().attr("rules").index(i as i64).attr("host");
            if let Err(e) = policy::validate_host(h) {
                d.push(Diagnostic::error("Invalid host", e).at(at.clone()));
            }
            if !seen.insert(h.to_string()) {
                d.push(
                    Diagnostic::error(
                        "Duplicate host rule",
                        format!("host {h:?} appears in more than one rule"),
                    )
                    .at(at),
                );
            }
        }
        d
    }

    /// Compiles the expression and checks every user and group exists.
    fn modify_plan(&self, _ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        if plan.planned.is_null() || !plan.config.is_fully_known() {
            return Diagnostics::default();
        }
        let conn = match self.shared.conn() {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::default();
        for (i, r) in rules(&plan.planned).iter().enumerate() {
            let at = |a: &str| AttrPath::root().attr("rules").index(i as i64).attr(a);
            for u in &r.users {
                match conn.user_pk(u) {
                    Ok(Some(_)) => {}
                    Ok(None) => d.push(
                        Diagnostic::error(
                            format!("User {u:?} not found"),
                            format!("the rule for {:?} admits {u:?}, which is neither a username nor an e-mail address in Authentik.", r.host),
                        )
                        .at(at("users")),
                    ),
                    Err(e) => d.push(Diagnostic::error("Cannot look up users", e.to_string())),
                }
            }
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
        let mut planned = plan
            .planned
            .clone()
            .with_attr("expression", Value::from(expression(&plan.planned)));
        let same_binding = plan.prior.as_ref().is_some_and(|p| {
            p.get("bind_to") == plan.planned.get("bind_to")
                && p.get("binding_order") == plan.planned.get("binding_order")
                && !p.get("binding_id").is_null()
        });
        if let Some(prior) = plan.prior.as_ref().filter(|_| same_binding) {
            planned = planned.with_attr("binding_id", prior.get("binding_id").clone());
        } else if plan.planned.get("bind_to").is_null() {
            planned = planned.with_attr("binding_id", Value::from(""));
        } else {
            // New, moved, or deleted outside Terraform: (re)bound on apply.
            planned = planned.with_attr("binding_id", Value::Unknown);
        }
        plan.planned = planned;
        d
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        let conn = self.shared.conn()?;
        let name = planned.get("name").as_str().unwrap_or_default().to_string();
        let text = expression(planned);
        let p = conn
            .api
            .post(
                "policies/expression/",
                &json!({"name": name, "expression": text, "execution_logging": false}),
                &format!("expression policy {name:?}"),
            )
            .map_err(|e| api_diag("Cannot create expression policy", e))?;
        let pk = js(&p, "pk");
        let bind_to = planned.get("bind_to").as_str().unwrap_or_default();
        let order = planned.get("binding_order").as_i64().unwrap_or(0);
        let binding = match self.rebind(&pk, "", bind_to, order) {
            Ok(b) => b,
            Err(d) => {
                conn.api
                    .delete(&format!("policies/expression/{pk}/"), "rollback")
                    .ok();
                return Err(d);
            }
        };
        Ok(planned
            .clone()
            .with_attr("id", Value::from(pk))
            .with_attr("expression", Value::from(text))
            .with_attr("binding_id", Value::from(binding)))
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let conn = self.shared.conn()?;
        let pk = state.get("id").as_str().unwrap_or_default();
        let Some(p) = conn
            .api
            .get_opt(
                &format!("policies/expression/{pk}/"),
                &format!("expression policy {pk}"),
            )
            .map_err(|e| api_diag("Cannot read expression policy", e))?
        else {
            return Ok(None);
        };
        let mut out = state
            .clone()
            .with_attr("name", Value::from(js(&p, "name")))
            .with_attr("expression", Value::from(js(&p, "expression")));
        let binding = state.get("binding_id").as_str().unwrap_or_default();
        if !binding.is_empty() {
            let b = conn
                .api
                .get_opt(
                    &format!("policies/bindings/{binding}/"),
                    &format!("binding {binding} of policy {pk}"),
                )
                .map_err(|e| api_diag("Cannot read policy binding", e))?;
            if b.is_none_or(|b| b["policy"].as_str() != Some(pk)) {
                // Binding removed outside Terraform: the plan re-creates it.
                out = out.with_attr("binding_id", Value::Null);
            }
        }
        Ok(Some(out))
    }

    fn update(
        &self,
        _ctx: &Ctx,
        prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        let conn = self.shared.conn()?;
        let pk = prior.get("id").as_str().unwrap_or_default().to_string();
        let name = planned.get("name").as_str().unwrap_or_default().to_string();
        let text = expression(planned);
        conn.api
            .patch(
                &format!("policies/expression/{pk}/"),
                &json!({"name": name, "expression": text}),
                &format!("expression policy {name:?}"),
            )
            .map_err(|e| api_diag("Cannot update expression policy", e))?;
        let mut binding = prior
            .get("binding_id")
            .as_str()
            .unwrap_or_default()
            .to_string();
        if planned.get("binding_id").as_str() != Some(binding.as_str())
            || prior.get("binding_id").is_null()
        {
            binding = self.rebind(
                &pk,
                &binding,
                planned.get("bind_to").as_str().unwrap_or_default(),
                planned.get("binding_order").as_i64().unwrap_or(0),
            )?;
        }
        Ok(planned
            .clone()
            .with_attr("expression", Value::from(text))
            .with_attr("binding_id", Value::from(binding)))
    }

    fn delete(&self, _ctx: &Ctx, prior: &Value) -> Result<(), Diagnostics> {
        let conn = self.shared.conn()?;
        let pk = prior.get("id").as_str().unwrap_or_default();
        // Deleting the policy deletes its bindings too.
        conn.api
            .delete(
                &format!("policies/expression/{pk}/"),
                &format!("expression policy {pk}"),
            )
            .map_err(|e| api_diag("Cannot delete expression policy", e))
    }

    /// Import ID: the policy name. Rules cannot be recovered from Python, so
    /// the first apply after import rewrites the expression from `rules`.
    fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let conn = self.shared.conn()?;
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
        Ok(Value::object([
            ("id", Value::from(js(&p, "pk"))),
            ("name", Value::from(id)),
            ("rules", Value::List(vec![])),
            ("default_allow", Value::from(true)),
            ("bind_to", Value::Null),
            ("binding_order", Value::from(0i64)),
            ("binding_id", Value::Null),
            ("expression", Value::from(js(&p, "expression"))),
        ]))
    }
}
