//! `goldmane_peers`: the peers of a namespace in both directions.

use std::collections::BTreeSet;

use tfplugin::diag::Diagnostics;
use tfplugin::schema::{Attribute, Schema};
use tfplugin::value::{Type, Value};

use super::parts::*;
use crate::db::Db;

pub(super) fn schema() -> Schema {
    Schema::new(vec![
        namespace_attr("Namespace whose peers (both directions) are listed."),
        action_attr(false),
        id_attr(),
        Attribute::new("peer_namespaces", Type::list(Type::String))
            .computed()
            .description("Sorted, de-duplicated peer namespaces."),
        Attribute::new(
            "peers",
            Type::list(Type::object([
                ("namespace", Type::String),
                ("action", Type::String),
                ("egress", Type::Bool),
                ("ingress", Type::Bool),
            ])),
        )
        .computed()
        .description("One entry per (peer, action), sorted; `egress` = the namespace talks to the peer, `ingress` = the peer talks to it."),
    ])
    .description("Distinct peers of a namespace in both directions (`homelab edges --peers-of`).")
}

pub(super) fn read(db: &Db, config: &Value) -> Result<Value, Diagnostics> {
    let ns = string(config, "namespace").unwrap_or_default();
    let action = string(config, "action");
    let peers = db.peers(&ns, action.as_deref()).map_err(db_err)?;
    let names: BTreeSet<&str> = peers.iter().map(|p| p.namespace.as_str()).collect();
    let list = peers
        .iter()
        .map(|p| {
            Value::object([
                ("namespace", Value::from(p.namespace.as_str())),
                ("action", Value::from(p.action.as_str())),
                ("egress", Value::from(p.egress)),
                ("ingress", Value::from(p.ingress)),
            ])
        })
        .collect();
    Ok(config
        .clone()
        .with_attr("id", id_of(&[Some(ns), action]))
        .with_attr("peer_namespaces", Value::string_list(names))
        .with_attr("peers", Value::List(list)))
}
