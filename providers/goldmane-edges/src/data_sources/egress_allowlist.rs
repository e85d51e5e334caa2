//! `goldmane_egress_allowlist`: the egress allowlist of one namespace.

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Source namespace whose egress destinations are listed."),
        action_attr(true),
        seen_within_attr(),
        min_observation_attr(),
        exclude_attr("Destination namespaces to leave out (e.g. those a baseline rule already allows)."),
        id_attr(),
        Attribute::new("dst_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated destination namespaces: the in-cluster half of the namespace's egress allowlist."),
        Attribute::new(
            "edges",
            Type::list(Type::object([
                ("dst_ns", Type::String),
                ("first_seen", Type::String),
                ("last_seen", Type::String),
                ("flow_count", Type::Number),
            ])),
        )
        .computed()
        .description("One entry per destination, sorted by `dst_ns`: earliest `first_seen`, latest `last_seen`, summed `flow_count`."),
    ])
    .description("The egress allowlist of one namespace, derived from observed edges (runbook: `SELECT DISTINCT dst_ns FROM edge WHERE src_ns = $1 AND action = 'allow' ORDER BY dst_ns`).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    require_observation(db, config)?;
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action").unwrap_or_else(|| "allow".into());
    let exclude = string_set(config, "exclude");
    let rows = db
        .allowlist(&ns, &action, duration(config, "seen_within"), &exclude)
        .map_err(db_err)?;
    let edges = rows
        .iter()
        .map(|e| {
            Value::object([
                ("dst_ns", Value::from(e.dst_ns.as_str())),
                ("first_seen", ts(&e.first_seen)),
                ("last_seen", ts(&e.last_seen)),
                ("flow_count", Value::from(e.flow_count)),
            ])
        })
        .collect();
    Ok(config
        .clone()
        .with_attr("action", Value::from(action.as_str()))
        .with_attr("id", id_of(&[Some(ns), Some(action)]))
        .with_attr(
            "dst_namespaces",
            Value::string_list(rows.iter().map(|e| e.dst_ns.clone())),
        )
        .with_attr("edges", Value::List(edges)))
}
