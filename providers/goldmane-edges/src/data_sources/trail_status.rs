//! `goldmane_trail_status`: the health of the trail.

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;

pub(super) fn schema() -> Schema {
    let n = |name: &str, md: &str| {
        Attribute::new(name, Type::Number)
            .computed()
            .description(md)
    };
    let s = |name: &str, md: &str| {
        Attribute::new(name, Type::String)
            .computed()
            .description(md)
    };
    Schema::new(vec![
        id_attr(),
        s("table_shape", "`narrow` (the runbook's six columns) or `widened` (workload/port columns)."),
        n("row_count", "Rows in `edge`, sentinel rows included."),
        n("edge_count", "Distinct (src, dst, action) edges between real namespaces."),
        n("external_row_count", "Rows with the `'-'` sentinel (no namespace) on either side."),
        s("oldest_first_seen", "Earliest `first_seen` (UTC, RFC 3339): when the trail began."),
        s("newest_last_seen", "Latest `last_seen`: stale means the aggregator stopped upserting."),
        n("observed_for_seconds", "Seconds since `oldest_first_seen`."),
        n("last_seen_age_seconds", "Seconds since `newest_last_seen`."),
    ])
    .description("Health of the trail, so a `check` or `precondition` can refuse a stale or too-young trail.")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let s = db.status().map_err(db_err)?;
    let secs = |v: Option<f64>| {
        v.map(|v| Value::from(v.floor() as i64))
            .unwrap_or(Value::Null)
    };
    Ok(config
        .clone()
        .with_attr("id", Value::from("edge"))
        .with_attr("table_shape", Value::from(s.shape.name()))
        .with_attr("row_count", Value::from(s.row_count))
        .with_attr("edge_count", Value::from(s.edge_count))
        .with_attr("external_row_count", Value::from(s.external_row_count))
        .with_attr("oldest_first_seen", ts(&s.oldest_first_seen))
        .with_attr("newest_last_seen", ts(&s.newest_last_seen))
        .with_attr("observed_for_seconds", secs(s.observed_for_secs))
        .with_attr("last_seen_age_seconds", secs(s.last_seen_age_secs)))
}
