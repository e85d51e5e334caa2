//! `goldmane_egress_matrix`: every source namespace's egress destinations at once.

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        action_attr(true),
        seen_within_attr(),
        min_observation_attr(),
        exclude_attr("Namespaces to leave out, as sources and as destinations."),
        id_attr(),
        Attribute::new("allowed", Type::map(Type::list(Type::String)))
            .computed()
            .description("Source namespace → its sorted destination namespaces. Use with `for_each`."),
        Attribute::new("source_namespaces", Type::list(Type::String))
            .computed()
            .description("The keys of `allowed`, sorted."),
    ])
    .description("The egress matrix of every source namespace at once (runbook: `SELECT src_ns, array_agg(DISTINCT dst_ns ORDER BY dst_ns) … GROUP BY src_ns`).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    require_observation(db, config)?;
    let action = string(config, "action").unwrap_or_else(|| "allow".into());
    let matrix = db
        .matrix(
            &action,
            duration(config, "seen_within"),
            &string_set(config, "exclude"),
        )
        .map_err(db_err)?;
    let allowed = matrix
        .iter()
        .map(|(k, v)| (k.clone(), Value::string_list(v.iter().cloned())))
        .collect();
    Ok(config
        .clone()
        .with_attr("action", Value::from(action.as_str()))
        .with_attr("id", id_of(&[Some(action)]))
        .with_attr("allowed", Value::Map(allowed))
        .with_attr(
            "source_namespaces",
            Value::string_list(matrix.keys().cloned()),
        ))
}
