//! `goldmane_denied_edges`: edges a policy is already dropping.

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;
use crate::validate;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        Attribute::new("namespace", Type::String)
            .optional()
            .validate(validate::namespace_name())
            .description("Only denied edges touching this namespace (either direction)."),
        seen_within_attr(),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(false)))
            .computed()
            .description("Denied pairs, latest `last_seen` first (ties by src, dst)."),
    ])
    .description("Edges a policy is already dropping: investigate before tightening further (runbook sanity query).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace");
    let rows = db
        .denied(ns.as_deref(), duration(config, "seen_within"))
        .map_err(db_err)?;
    Ok(config
        .clone()
        .with_attr("id", id_of(&[ns, string(config, "seen_within")]))
        .with_attr("edges", edge_list(&rows, false)))
}
