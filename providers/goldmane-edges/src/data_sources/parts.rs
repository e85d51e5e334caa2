//! Schema pieces and conversions the data sources share.

use std::collections::BTreeSet;
use std::time::Duration;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::schema::Attribute;
use tfplugin::validator::each;
use tfplugin::value::{AttrPath, Type, Value};

use crate::db::{Db, DbError, Edge};
use crate::validate;

pub(crate) fn id_attr() -> Attribute {
    Attribute::new("id", Type::String)
        .computed()
        .description("A stable identifier of the query (its inputs).")
}

pub(crate) fn namespace_attr(md: &str) -> Attribute {
    Attribute::new("namespace", Type::String)
        .required()
        .validate(validate::namespace_name())
        .description(md)
}

pub(crate) fn action_attr(default_allow: bool) -> Attribute {
    let a = Attribute::new("action", Type::String).validate(validate::action_name());
    if default_allow {
        a.optional()
            .computed()
            .description("Edge action: `allow` (default), `deny`, `pass` or `unspecified`.")
    } else {
        a.optional()
            .description("Only edges with this action (`allow`, `deny`, `pass`, `unspecified`); all actions when unset.")
    }
}

pub(crate) fn seen_within_attr() -> Attribute {
    Attribute::new("seen_within", Type::String).optional().validate(validate::window()).description(
        "Drop edges whose `last_seen` is older than this duration (e.g. `30d`). Edges are never pruned from the table, so without it an edge of a decommissioned workload stays forever.",
    )
}

pub(crate) fn min_observation_attr() -> Attribute {
    Attribute::new("min_observation", Type::String).optional().validate(validate::window()).description(
        "Fail unless the trail's oldest `first_seen` is at least this old (e.g. `7d`; `14d` for namespaces with weekly CronJobs). An edge exists only once its traffic was observed.",
    )
}

pub(crate) fn exclude_attr(md: &str) -> Attribute {
    Attribute::new("exclude", Type::set(Type::String))
        .optional()
        .validate(each(validate::namespace_name()))
        .description(md)
}

pub(crate) fn edge_type(with_ports: bool) -> Type {
    let mut fields = vec![
        ("src_ns", Type::String),
        ("dst_ns", Type::String),
        ("action", Type::String),
        ("flow_count", Type::Number),
        ("first_seen", Type::String),
        ("last_seen", Type::String),
    ];
    if with_ports {
        fields.push(("dst_ports", Type::list(Type::Number)));
    }
    Type::object(fields)
}

pub(crate) fn ts(v: &Option<String>) -> Value {
    v.clone().map(Value::from).unwrap_or(Value::Null)
}

pub(crate) fn edge_value(e: &Edge, with_ports: bool) -> Value {
    let mut attrs = vec![
        ("src_ns", Value::from(e.src_ns.as_str())),
        ("dst_ns", Value::from(e.dst_ns.as_str())),
        ("action", Value::from(e.action.as_str())),
        ("flow_count", Value::from(e.flow_count)),
        ("first_seen", ts(&e.first_seen)),
        ("last_seen", ts(&e.last_seen)),
    ];
    if with_ports {
        attrs.push((
            "dst_ports",
            Value::List(e.dst_ports.iter().map(|p| Value::from(*p)).collect()),
        ));
    }
    Value::object(attrs)
}

pub(crate) fn edge_list(edges: &[Edge], with_ports: bool) -> Value {
    Value::List(edges.iter().map(|e| edge_value(e, with_ports)).collect())
}

pub(crate) fn db_err(e: DbError) -> Diagnostics {
    Diagnostic::error("Reading the goldmane edge trail failed", &e.0).into()
}

pub(crate) fn string(config: &Value, attr: &str) -> Option<String> {
    config.get(attr).string()
}

/// A duration attribute; validators refused a malformed one before any read.
pub(crate) fn duration(config: &Value, attr: &str) -> Option<Duration> {
    config.get(attr).duration().ok().flatten()
}

/// A set of strings, sorted and de-duplicated.
pub(crate) fn string_set(config: &Value, attr: &str) -> Vec<String> {
    let set: BTreeSet<String> = config.get(attr).strings().into_iter().collect();
    set.into_iter().collect()
}

/// Enforces `min_observation`, pointing at the attribute on failure.
pub(crate) fn require_observation(db: &Db, config: &Value) -> Result<(), Diagnostics> {
    match duration(config, "min_observation") {
        Some(min) => db.require_observed_for(min).map_err(|e| {
            Diagnostic::error("The edge trail is younger than min_observation", &e)
                .at(AttrPath::root().attr("min_observation"))
                .into()
        }),
        None => Ok(()),
    }
}

pub(crate) fn id_of(parts: &[Option<String>]) -> Value {
    Value::from(
        parts
            .iter()
            .map(|p| p.as_deref().unwrap_or("*"))
            .collect::<Vec<_>>()
            .join("/"),
    )
}
