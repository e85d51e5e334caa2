//! The data sources, one file each: a schema (with the validators the SDK
//! runs on its inputs at validation and again at read time, before anything
//! reaches SQL) and a read function over [`Db`]. This module registers them;
//! `parts` holds the schema pieces and conversions they share.

mod denied_edges;
mod edges;
mod egress_allowlist;
mod egress_matrix;
mod ingress_sources;
mod new_edges;
mod peers;
mod trail_status;

mod parts;

use std::sync::Arc;

use tfplugin::diag::Diagnostics;
use tfplugin::provider::{Ctx, DataSource};
use tfplugin::schema::Schema;
use tfplugin::value::Value;

use crate::db::{Db, DbCell};

/// What one data source is.
struct Spec {
    name: &'static str,
    schema: fn() -> Schema,
    read: fn(&Db, &Value) -> Result<Value, Diagnostics>,
}

struct Ds {
    spec: Spec,
    db: DbCell,
}

impl DataSource for Ds {
    fn type_name(&self) -> &'static str {
        self.spec.name
    }
    fn schema(&self) -> Schema {
        (self.spec.schema)()
    }
    fn read(&self, ctx: &Ctx, config: &Value) -> Result<Value, Diagnostics> {
        ctx.check_stopped()?;
        let db = self.db.get()?;
        (self.spec.read)(&db, config)
    }
}

/// Every data source of the provider, reading through `db`.
pub fn all(db: &DbCell) -> Vec<Arc<dyn DataSource>> {
    [
        Spec {
            name: "goldmane_egress_allowlist",
            schema: egress_allowlist::schema,
            read: egress_allowlist::read,
        },
        Spec {
            name: "goldmane_egress_matrix",
            schema: egress_matrix::schema,
            read: egress_matrix::read,
        },
        Spec {
            name: "goldmane_edges",
            schema: edges::schema,
            read: edges::read,
        },
        Spec {
            name: "goldmane_ingress_sources",
            schema: ingress_sources::schema,
            read: ingress_sources::read,
        },
        Spec {
            name: "goldmane_peers",
            schema: peers::schema,
            read: peers::read,
        },
        Spec {
            name: "goldmane_denied_edges",
            schema: denied_edges::schema,
            read: denied_edges::read,
        },
        Spec {
            name: "goldmane_new_edges",
            schema: new_edges::schema,
            read: new_edges::read,
        },
        Spec {
            name: "goldmane_trail_status",
            schema: trail_status::schema,
            read: trail_status::read,
        },
    ]
    .into_iter()
    .map(|spec| {
        Arc::new(Ds {
            spec,
            db: db.clone(),
        }) as Arc<dyn DataSource>
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use tfplugin::validation::validate_config;
    use tfplugin::value::AttrPath;

    /// The inputs each data source refuses (attribute, bad value, summary):
    /// exactly the checks the data sources ran before the SDK had validators.
    #[test]
    fn every_input_has_its_validator() {
        let ns = |a: &'static str| (a, Value::from("Bad_NS"), "Invalid namespace name");
        let ns_set = |a: &'static str| {
            (
                a,
                Value::string_set(["ok", "x;y"]),
                "Invalid namespace name",
            )
        };
        let action = ("action", Value::from("drop"), "Invalid action");
        let dur = |a: &'static str| (a, Value::from("1y"), "Invalid duration");
        let want: BTreeMap<&str, Vec<(&str, Value, &str)>> = [
            (
                "goldmane_egress_allowlist",
                vec![
                    ns("namespace"),
                    action.clone(),
                    dur("seen_within"),
                    dur("min_observation"),
                    ns_set("exclude"),
                ],
            ),
            (
                "goldmane_egress_matrix",
                vec![
                    action.clone(),
                    dur("seen_within"),
                    dur("min_observation"),
                    ns_set("exclude"),
                ],
            ),
            (
                "goldmane_edges",
                vec![
                    ns("namespace"),
                    ns("src"),
                    ns("dst"),
                    action.clone(),
                    (
                        "first_seen_since",
                        Value::from("yesterday"),
                        "Invalid time bound",
                    ),
                    ("limit", Value::from(0), "Invalid limit"),
                ],
            ),
            (
                "goldmane_ingress_sources",
                vec![ns("namespace"), action.clone(), dur("seen_within")],
            ),
            ("goldmane_peers", vec![ns("namespace"), action.clone()]),
            (
                "goldmane_denied_edges",
                vec![ns("namespace"), dur("seen_within")],
            ),
            (
                "goldmane_new_edges",
                vec![dur("within"), action.clone(), ns("namespace")],
            ),
            ("goldmane_trail_status", vec![]),
        ]
        .into();
        let cell: DbCell = Arc::new(tfplugin::Configured::new("goldmane"));
        for ds in all(&cell) {
            let schema = ds.schema();
            let checked: Vec<&str> = schema
                .block
                .attributes
                .iter()
                .filter(|a| !a.validators.is_empty())
                .map(|a| a.name.as_str())
                .collect();
            let cases = &want[ds.type_name()];
            assert_eq!(
                checked.len(),
                cases.len(),
                "{}: {checked:?}",
                ds.type_name()
            );
            for (attr, bad, summary) in cases {
                let config = Value::object([(*attr, bad.clone())]);
                let d = validate_config(&schema, &config);
                assert_eq!(d.0.len(), 1, "{} {attr}: {d}", ds.type_name());
                assert_eq!(d.0[0].summary, *summary);
                assert_eq!(d.0[0].path, Some(AttrPath::root().attr(attr)));
                let unknown = Value::object([(*attr, Value::Unknown)]);
                assert!(validate_config(&schema, &unknown).is_empty());
            }
        }
    }
}
