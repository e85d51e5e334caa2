//! Runs the validators attached to a schema's attributes
//! ([`crate::validator`]) over a configuration, at any depth: what the SDK
//! does in the Validate*Config calls and again once unknown values are
//! known (configure, plan, read). Kept apart from the validators
//! themselves so a validator never depends on the schema it is attached to.

use crate::diag::Diagnostics;
use crate::schema::{AttrType, Attribute, Block, Nesting, Schema};
use crate::value::{AttrPath, Value};

/// Runs every attribute validator of `schema` on `config`, at any depth.
pub fn validate_config(schema: &Schema, config: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    block(&schema.block, config, &AttrPath::root(), &mut d);
    d
}

fn block(b: &Block, v: &Value, at: &AttrPath, d: &mut Diagnostics) {
    attrs(&b.attributes, v, at, d);
    for nb in &b.blocks {
        let path = at.clone().attr(&nb.name);
        for_elements(v.get(&nb.name), &path, &mut |e, p| {
            block(&nb.block, e, p, d)
        });
    }
}

fn attrs(list: &[Attribute], v: &Value, at: &AttrPath, d: &mut Diagnostics) {
    for a in list {
        let value = v.get(&a.name);
        if value.is_null() || value.is_unknown() {
            continue;
        }
        let path = at.clone().attr(&a.name);
        for check in &a.validators {
            check.validate(value, &path, d);
        }
        if let AttrType::Nested(nesting, inner) = &a.ty {
            if *nesting == Nesting::Single {
                attrs(inner, value, &path, d);
            } else {
                for_elements(value, &path, &mut |e, p| attrs(inner, e, p, d));
            }
        }
    }
}

/// Calls `f` on each known, non-null element of a nested collection (or on
/// a single nested object) with its path; set elements have no step of
/// their own and are reported at the set.
fn for_elements(v: &Value, at: &AttrPath, f: &mut dyn FnMut(&Value, &AttrPath)) {
    let known = |e: &Value| !e.is_null() && !e.is_unknown();
    match v {
        Value::List(l) => {
            for (i, e) in l.iter().enumerate().filter(|(_, e)| known(e)) {
                f(e, &at.clone().index(i as i64));
            }
        }
        Value::Set(l) => {
            for e in l.iter().filter(|e| known(e)) {
                f(e, at);
            }
        }
        Value::Map(m) => {
            for (k, e) in m.iter().filter(|(_, e)| known(e)) {
                f(e, &at.clone().key(k));
            }
        }
        Value::Object(_) => f(v, at),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::NestedBlock;
    use crate::validator::{duration, i64_in, one_of};
    use crate::value::Type;

    #[test]
    fn the_sdk_runs_validators_at_every_depth_and_skips_unknowns() {
        let port = || {
            Attribute::new("port", Type::Number)
                .required()
                .validate(i64_in(1..=65535))
        };
        let schema = Schema::new(vec![
            Attribute::new("mode", Type::String)
                .optional()
                .validate(one_of(&["a"])),
            Attribute::nested("rules", Nesting::List, vec![port()]).optional(),
            Attribute::nested("byname", Nesting::Map, vec![port()]).optional(),
        ])
        .block(NestedBlock::new(
            "timeouts",
            Nesting::Single,
            vec![
                Attribute::new("create", Type::String)
                    .optional()
                    .validate(duration()),
            ],
        ));
        let rule = |p: Value| Value::object([("port", p)]);
        let config = Value::object([
            ("mode", Value::Unknown),
            (
                "rules",
                Value::List(vec![
                    rule(Value::from(80)),
                    rule(Value::Unknown),
                    rule(Value::from(0)),
                ]),
            ),
            (
                "byname",
                Value::Map([("x".to_string(), rule(Value::from(70000)))].into()),
            ),
            ("timeouts", Value::object([("create", Value::from("soon"))])),
        ]);
        let d = validate_config(&schema, &config);
        let paths: Vec<String> =
            d.0.iter()
                .map(|d| d.path.as_ref().unwrap().to_string())
                .collect();
        assert_eq!(
            paths,
            ["rules[2].port", "byname[\"x\"].port", "timeouts.create"]
        );
        let ok = config.with_attr("mode", Value::from("b"));
        assert_eq!(
            validate_config(&schema, &ok).0[0].detail,
            "mode \"b\" is not one of a"
        );
    }
}
