//! `goldmane_edges`: a filtered listing of edges (`homelab edges`).

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::validator::i64_in;
use tfplugin::value::{AttrPath, Type, Value};

use super::parts::*;
use crate::db::{Db, EdgeFilter};
use crate::validate;

const DEFAULT_LIMIT: i64 = 200;

pub(super) fn schema() -> Schema {
    let ns = |name: &str, md: &str| {
        Attribute::new(name, Type::String)
            .optional()
            .validate(validate::namespace_name())
            .description(md)
    };
    Schema::new(vec![
        ns("namespace", "Edges touching this namespace in either direction."),
        ns("src", "Edges whose source namespace is this."),
        ns("dst", "Edges whose destination namespace is this."),
        action_attr(false),
        Attribute::new("first_seen_since", Type::String)
            .optional()
            .validate(validate::time_bound())
            .description("Edges first seen at or after this: a duration back from now (`24h`, `7d`) or a date/timestamp (`2026-06-24`, `2026-06-24T08:00:00Z`)."),
        Attribute::new("limit", Type::Number)
            .optional()
            .computed()
            .validate(i64_in(1..=100_000))
            .description("At most this many edges (default 200, max 100000)."),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(true)))
            .computed()
            .description("Matching edges, newest `first_seen` first (ties by src, dst, action). `dst_ports` is filled only from a widened table."),
    ])
    .description("A filtered listing of edges, like `homelab edges` (`--ns`, `--src`, `--dst`, `--denied`, `--new-since`, `--limit`).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let limit = config.get("limit").as_i64().unwrap_or(DEFAULT_LIMIT);
    let filter = EdgeFilter {
        namespace: string(config, "namespace"),
        src: string(config, "src"),
        dst: string(config, "dst"),
        action: string(config, "action"),
        since: config
            .get("first_seen_since")
            .as_str()
            .and_then(|s| validate::since(s).ok()),
        limit: Some(limit),
    };
    let edges = db.edges(&filter).map_err(|e| {
        let d = Diagnostic::error("Reading the goldmane edge trail failed", &e.0);
        let d = if filter.since.is_some() && e.0.contains("timestamp") {
            d.at(AttrPath::root().attr("first_seen_since"))
        } else {
            d
        };
        Diagnostics::from(d)
    })?;
    Ok(config
        .clone()
        .with_attr("limit", Value::from(limit))
        .with_attr(
            "id",
            id_of(&[
                filter.namespace.clone(),
                filter.src.clone(),
                filter.dst.clone(),
                filter.action.clone(),
                string(config, "first_seen_since"),
                Some(limit.to_string()),
            ]),
        )
        .with_attr("edges", edge_list(&edges, true)))
}
