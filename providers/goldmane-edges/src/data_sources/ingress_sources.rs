//! `goldmane_ingress_sources`: everything talking to a namespace.

use std::collections::BTreeSet;

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Destination namespace whose sources are listed."),
        action_attr(false),
        seen_within_attr(),
        id_attr(),
        Attribute::new("src_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated source namespaces."),
        Attribute::new("sources", Type::list(edge_type(false)))
            .computed()
            .description("One entry per (source, action), most flows first (ties by src, action)."),
    ])
    .description("Everything talking to a namespace (inbound), for ingress policies.")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action");
    let rows = db
        .ingress(&ns, action.as_deref(), duration(config, "seen_within"))
        .map_err(db_err)?;
    let srcs: BTreeSet<&str> = rows.iter().map(|e| e.src_ns.as_str()).collect();
    Ok(config
        .clone()
        .with_attr("id", id_of(&[Some(ns), action]))
        .with_attr("src_namespaces", Value::string_list(srcs))
        .with_attr("sources", edge_list(&rows, false)))
}
