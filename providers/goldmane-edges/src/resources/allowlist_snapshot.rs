//! `goldmane_allowlist_snapshot`: a reviewed, human-approved egress allowlist.
//!
//! The approved set lives in configuration and state; policies are built from
//! it, never from the live trail. Each plan re-reads the trail and shows what
//! changed — `observed`, `unapproved_new` (observed − approved) and `stale`
//! (approved but not seen within `stale_after`) — as an in-place update of
//! these computed attributes. Nothing is widened until a person adds a
//! namespace to `approved` (observe-then-enforce, seeds/001 lines 8476-8478).

use std::collections::BTreeSet;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::provider::{Ctx, PlanChange, Resource};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::each;
use tfplugin::value::{AttrPath, Type, Value};

use crate::db::DbCell;
use crate::validate;

const DEFAULT_STALE_AFTER: &str = "30d";

pub struct AllowlistSnapshot {
    db: DbCell,
}

impl AllowlistSnapshot {
    pub fn new(db: DbCell) -> Self {
        AllowlistSnapshot { db }
    }

    /// Fills the computed attributes of `obj` from the live trail.
    fn observe(&self, obj: Value) -> Result<Value, Diagnostics> {
        let ns = obj
            .get("namespace")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let action = obj.get("action").as_str().unwrap_or("allow").to_string();
        let stale_after = obj
            .get("stale_after")
            .as_str()
            .unwrap_or(DEFAULT_STALE_AFTER)
            .to_string();
        let window = tfplugin::duration::parse(&stale_after).map_err(|e| {
            Diagnostics::from(
                Diagnostic::error("Invalid duration", &e).at(AttrPath::root().attr("stale_after")),
            )
        })?;
        let db = self.db.get()?;
        let edges = db.allowlist(&ns, &action, None, &[]).map_err(|e| {
            Diagnostics::from(Diagnostic::error(
                "Reading the goldmane edge trail failed",
                &e.0,
            ))
        })?;
        let observed: BTreeSet<String> = edges.iter().map(|e| e.dst_ns.clone()).collect();
        let obj = obj
            .with_attr("id", Value::from(format!("{ns}/{action}")))
            .with_attr("action", Value::from(action.as_str()))
            .with_attr("stale_after", Value::from(stale_after.as_str()))
            .with_attr("observed", Value::string_set(observed.iter().cloned()));
        let approved = obj.get("approved");
        if !approved.is_fully_known() {
            return Ok(obj
                .with_attr("unapproved_new", Value::Unknown)
                .with_attr("stale", Value::Unknown));
        }
        let approved: BTreeSet<String> = approved.strings().into_iter().collect();
        let fresh: BTreeSet<&str> = edges
            .iter()
            .filter(|e| {
                e.last_seen_age_secs
                    .is_some_and(|age| age <= window.as_secs_f64())
            })
            .map(|e| e.dst_ns.as_str())
            .collect();
        let unapproved: Vec<String> = observed.difference(&approved).cloned().collect();
        let stale: Vec<String> = approved
            .iter()
            .filter(|a| !fresh.contains(a.as_str()))
            .cloned()
            .collect();
        Ok(obj
            .with_attr("unapproved_new", Value::string_set(unapproved))
            .with_attr("stale", Value::string_set(stale)))
    }
}

impl Resource for AllowlistSnapshot {
    fn type_name(&self) -> &'static str {
        "goldmane_allowlist_snapshot"
    }

    fn schema(&self) -> Schema {
        let set = |name: &str, md: &str| {
            Attribute::new(name, Type::set(Type::String))
                .computed()
                .description(md)
        };
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown()
                .description("`<namespace>/<action>`."),
            Attribute::new("namespace", Type::String)
                .required()
                .validate(validate::namespace_name())
                .requires_replace()
                .description("Source namespace the allowlist is for."),
            Attribute::new("action", Type::String)
                .optional()
                .computed()
                .default(Value::from("allow"))
                .validate(validate::action_name())
                .requires_replace()
                .description("Edge action observed (default `allow`)."),
            Attribute::new("approved", Type::set(Type::String))
                .required()
                .validate(each(validate::namespace_name()))
                .description("The reviewed destination namespaces. Build policies from this attribute: it changes only when a person edits it."),
            Attribute::new("stale_after", Type::String)
                .optional()
                .computed()
                .default(Value::from(DEFAULT_STALE_AFTER))
                .validate(validate::window())
                .description("An approved destination not seen for this long is reported in `stale` (default `30d`)."),
            Attribute::new("fail_on_unapproved", Type::Bool)
                .optional()
                .computed()
                .default(Value::from(false))
                .description("Fail the plan when `unapproved_new` is not empty (for CI gates)."),
            set("observed", "Every destination observed for this namespace and action, at the last plan."),
            set("unapproved_new", "Observed but not approved: review and add to `approved`, or investigate."),
            set("stale", "Approved but not seen within `stale_after` (or never seen): candidates to remove."),
        ])
        .description("A reviewed egress allowlist snapshot: the approved set in state, with the live trail's differences computed at every plan, so new edges show up in plans without widening any policy.")
    }

    fn modify_plan(&self, ctx: &Ctx, plan: &mut PlanChange) -> Diagnostics {
        // The SDK ran the attribute validators on the config already.
        if plan.planned.is_null() {
            return Diagnostics::default();
        }
        if plan.planned.get("namespace").is_unknown()
            || plan.planned.get("action").is_unknown()
            || plan.planned.get("stale_after").is_unknown()
        {
            return Diagnostics::default();
        }
        if let Err(d) = ctx.check_stopped() {
            return d;
        }
        match self.observe(plan.planned.clone()) {
            Ok(v) => {
                let mut diags = Diagnostics::default();
                if let Some(new) = v.get("unapproved_new").as_list()
                    && !new.is_empty()
                {
                    let names: Vec<&str> = new.iter().filter_map(|x| x.as_str()).collect();
                    let detail = format!(
                        "observed but not approved: {}. Review them and add them to approved (or investigate).",
                        names.join(", ")
                    );
                    if v.get("fail_on_unapproved").as_bool() == Some(true) {
                        diags.push(
                            Diagnostic::error("Unapproved egress edges", &detail)
                                .at(AttrPath::root().attr("approved")),
                        );
                    } else {
                        diags.push(
                            Diagnostic::warning("Unapproved egress edges", &detail)
                                .at(AttrPath::root().attr("approved")),
                        );
                    }
                }
                plan.planned = v;
                diags
            }
            Err(d) => d,
        }
    }

    fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Result<Value, Diagnostics> {
        // The plan already holds the observation; apply records it unchanged.
        Ok(planned.clone())
    }

    fn read(&self, _ctx: &Ctx, state: &Value) -> Result<Option<Value>, Diagnostics> {
        // Refresh keeps the recorded observation: the next plan shows any
        // change as a diff instead of hiding it in a refresh.
        Ok(Some(state.clone()))
    }

    fn update(
        &self,
        _ctx: &Ctx,
        _prior: &Value,
        planned: &Value,
        _config: &Value,
    ) -> Result<Value, Diagnostics> {
        Ok(planned.clone())
    }

    fn delete(&self, _ctx: &Ctx, _prior: &Value) -> Result<(), Diagnostics> {
        // Nothing outside Terraform exists: the trail is read-only.
        Ok(())
    }

    fn import(&self, _ctx: &Ctx, id: &str) -> Result<Value, Diagnostics> {
        let (ns, action) = id.split_once('/').unwrap_or((id, "allow"));
        let bad = |e: String| {
            Diagnostics::from(Diagnostic::error(
                "Invalid import ID",
                format!("{e}; the ID is <namespace> or <namespace>/<action>"),
            ))
        };
        validate::namespace(ns).map_err(bad)?;
        validate::action(action).map_err(bad)?;
        let obj = Value::object([
            ("id", Value::Null),
            ("namespace", Value::from(ns)),
            ("action", Value::from(action)),
            ("approved", Value::Unknown),
            ("stale_after", Value::from(DEFAULT_STALE_AFTER)),
            ("fail_on_unapproved", Value::from(false)),
            ("observed", Value::Null),
            ("unapproved_new", Value::Null),
            ("stale", Value::Null),
        ]);
        // An import approves what is observed now: the snapshot to review.
        let observed = self.observe(obj)?;
        let approved = observed.get("observed").clone();
        self.observe(observed.with_attr("approved", approved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The inputs the snapshot refuses: the checks it ran before the SDK had
    /// validators (namespace, action, approved, stale_after).
    #[test]
    fn every_input_has_its_validator() {
        let r = AllowlistSnapshot::new(Arc::new(tfplugin::Configured::new("goldmane")));
        let config = Value::object([
            ("namespace", Value::from("Bad_NS")),
            ("action", Value::from("drop")),
            ("approved", Value::string_set(["ok", "no way"])),
            ("stale_after", Value::from("1y")),
        ]);
        let d = tfplugin::validation::validate_config(&r.schema(), &config);
        let got: Vec<(String, String)> =
            d.0.iter()
                .map(|d| (d.path.as_ref().unwrap().to_string(), d.summary.clone()))
                .collect();
        let want = [
            ("namespace", "Invalid namespace name"),
            ("action", "Invalid action"),
            ("approved", "Invalid namespace name"),
            ("stale_after", "Invalid duration"),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (path, summary) in want {
            assert!(
                got.contains(&(path.into(), summary.into())),
                "{path}: {got:?}"
            );
        }
    }
}
