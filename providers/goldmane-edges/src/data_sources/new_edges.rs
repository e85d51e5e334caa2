//! `goldmane_new_edges`: edges first seen inside a window.

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{AttrPath, Type, Value};

use super::parts::*;
use crate::db::{Db, EdgeFilter};
use crate::validate;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        Attribute::new("within", Type::String)
            .optional()
            .computed()
            .validate(validate::window())
            .description("Window back from now (default `24h`, what the daily digest reports)."),
        action_attr(false),
        Attribute::new("namespace", Type::String)
            .optional()
            .validate(validate::namespace_name())
            .description("Only new edges touching this namespace (either direction)."),
        id_attr(),
        Attribute::new("edges", Type::list(edge_type(false)))
            .computed()
            .description("Edges whose earliest `first_seen` is inside the window, newest first."),
    ])
    .description("Edges first seen inside a window (a \"new edge\" as the digest defines it).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let within = string(config, "within").unwrap_or_else(|| "24h".into());
    let window = tfplugin::duration::parse(&within).map_err(|e| {
        Diagnostics::from(
            Diagnostic::error("Invalid duration", &e).at(AttrPath::root().attr("within")),
        )
    })?;
    let filter = EdgeFilter {
        namespace: string(config, "namespace"),
        action: string(config, "action"),
        since: Some(validate::Since::Ago(window)),
        ..EdgeFilter::default()
    };
    let rows = db.edges(&filter).map_err(db_err)?;
    Ok(config
        .clone()
        .with_attr("within", Value::from(within.as_str()))
        .with_attr(
            "id",
            id_of(&[
                Some(within.clone()),
                filter.action.clone(),
                filter.namespace.clone(),
            ]),
        )
        .with_attr("edges", edge_list(&rows, false)))
}
