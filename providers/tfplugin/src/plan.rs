//! The planner (defaults, computed → unknown, UseStateForUnknown,
//! RequiresReplace) and self-checks that mirror Terraform's plan/apply
//! consistency rules.
//!
//! Why self-checks: when a provider plans or applies a value Terraform
//! considers inconsistent, the user sees "Provider produced inconsistent
//! result" mid-apply. Checking the same rules here turns such bugs into a
//! clear provider-side error that names the attribute, and makes them fail
//! our own tests first.

use crate::diag::{Diagnostic, Diagnostics};
use crate::schema::{AttrType, Attribute, Nesting, Schema};
use crate::value::{AttrPath, Value};

/// Runs the SDK planner for a create or update. `proposed` is Terraform's
/// proposed new state (config merged with prior computed values).
pub fn plan(
    schema: &Schema,
    prior: Option<&Value>,
    proposed: &Value,
    config: &Value,
) -> (Value, Vec<AttrPath>) {
    let changed = prior.is_none_or(|p| p != proposed);
    let planned = plan_attrs(&schema.block.attributes, prior, proposed, config, changed);
    let mut replace = Vec::new();
    if let Some(prior) = prior {
        for a in schema
            .block
            .attributes
            .iter()
            .filter(|a| a.requires_replace)
        {
            if prior.get(&a.name) != planned.get(&a.name) {
                replace.push(AttrPath::root().attr(&a.name));
            }
        }
    }
    (planned, replace)
}

fn plan_attrs(
    attrs: &[Attribute],
    prior: Option<&Value>,
    proposed: &Value,
    config: &Value,
    changed: bool,
) -> Value {
    let Value::Object(mut out) = proposed.clone() else {
        return proposed.clone();
    };
    for a in attrs {
        let cfg = config.get(&a.name);
        let prior_v = prior.map(|p| p.get(&a.name));
        let value = if !cfg.is_null() {
            match (&a.ty, out.get(&a.name)) {
                (AttrType::Nested(Nesting::Single, inner), Some(v)) if !v.is_unknown() => {
                    let prior_inner = prior_v.filter(|p| !p.is_null());
                    plan_attrs(inner, prior_inner, v, cfg, changed)
                }
                (AttrType::Nested(_, inner), Some(v)) => plan_elements(inner, v, cfg),
                (_, Some(v)) => v.clone(),
                (_, None) => cfg.clone(),
            }
        } else if let Some(d) = &a.default {
            d.clone()
        } else if !a.computed {
            Value::Null
        } else {
            match prior_v {
                None => Value::Unknown,
                Some(p) if a.use_state_for_unknown || !changed => p.clone(),
                Some(_) => Value::Unknown,
            }
        };
        out.insert(a.name.clone(), value);
    }
    Value::Object(out)
}

/// Inside list/set/map nested attributes only configured elements exist;
/// computed attributes of new elements become unknown, defaults apply.
fn plan_elements(inner: &[Attribute], proposed: &Value, config: &Value) -> Value {
    let plan_one = |p: &Value, c: &Value| {
        let has_prior_computed = inner
            .iter()
            .any(|a| a.computed && !p.get(&a.name).is_null());
        let prior = has_prior_computed.then_some(p);
        plan_attrs(inner, prior, p, c, true)
    };
    match (proposed, config) {
        (Value::List(p), Value::List(c)) => {
            Value::List(p.iter().zip(c).map(|(p, c)| plan_one(p, c)).collect())
        }
        (Value::Set(p), Value::Set(c)) if p.len() == c.len() => {
            Value::set(p.iter().zip(c).map(|(p, c)| plan_one(p, c)).collect())
        }
        (Value::Map(p), Value::Map(c)) => Value::Map(
            p.iter()
                .map(|(k, pv)| (k.clone(), plan_one(pv, c.get(k).unwrap_or(&Value::Null))))
                .collect(),
        ),
        _ => proposed.clone(),
    }
}

/// Terraform's rules for a planned state: every non-computed attribute
/// equals its configuration; a configured computed attribute too; the plan
/// never leaves the configured shape.
pub fn check_planned(schema: &Schema, config: &Value, planned: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    check_planned_attrs(
        &schema.block.attributes,
        config,
        planned,
        &AttrPath::root(),
        &mut d,
    );
    d
}

fn check_planned_attrs(
    attrs: &[Attribute],
    config: &Value,
    planned: &Value,
    at: &AttrPath,
    d: &mut Diagnostics,
) {
    for a in attrs {
        let path = at.clone().attr(&a.name);
        let cfg = config.get(&a.name);
        let pl = planned.get(&a.name);
        if let (AttrType::Nested(Nesting::Single, inner), false, false) =
            (&a.ty, cfg.is_null(), pl.is_unknown())
        {
            check_planned_attrs(inner, cfg, pl, &path, d);
            continue;
        }
        if let AttrType::Nested(..) = a.ty {
            if !cfg.is_null() && pl.is_null() {
                d.push(inconsistent(
                    &path,
                    "planned null for a configured nested attribute",
                ));
            }
            continue;
        }
        let must_match = !a.computed || !cfg.is_null();
        if must_match && !cfg.is_unknown() && !compatible(cfg, pl) {
            d.push(inconsistent(
                &path,
                "planned value differs from the configuration",
            ));
        }
    }
}

/// Terraform's rules for applied state: fully known, and equal to every
/// value the plan already knew.
pub fn check_applied(planned: &Value, applied: &Value) -> Diagnostics {
    let mut d = Diagnostics::default();
    if !applied.is_fully_known() {
        d.push(inconsistent(
            &AttrPath::root(),
            "applied state still contains unknown values",
        ));
    }
    if !compatible(planned, applied) {
        let path = first_difference(planned, applied, AttrPath::root()).unwrap_or_default();
        d.push(inconsistent(
            &path,
            "applied value differs from the planned value",
        ));
    }
    d
}

/// `a` (planned/config) is compatible with `b` when they are equal where `a`
/// is known; unknown in `a` matches anything.
pub fn compatible(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unknown, _) => true,
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| compatible(x, y))
        }
        (Value::Set(x), Value::Set(y)) => {
            if x.iter().all(Value::is_fully_known) {
                x == y
            } else {
                // Like Terraform: unknown parts change element identity, so
                // match both ways; equal elements may coalesce once known,
                // but the set never grows.
                y.len() <= x.len()
                    && x.iter().all(|e| y.iter().any(|f| compatible(e, f)))
                    && y.iter().all(|f| x.iter().any(|e| compatible(e, f)))
            }
        }
        (Value::Map(x), Value::Map(y)) | (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| compatible(v, w)))
        }
        _ => a == b,
    }
}

fn first_difference(a: &Value, b: &Value, at: AttrPath) -> Option<AttrPath> {
    if compatible(a, b) {
        return None;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .find_map(|(k, v)| {
                first_difference(v, y.get(k).unwrap_or(&Value::Null), at.clone().attr(k))
            })
            .or(Some(at)),
        _ => Some(at),
    }
}

fn inconsistent(path: &AttrPath, what: &str) -> Diagnostic {
    Diagnostic::error(
        "Provider bug: inconsistent result (caught by the SDK self-check)",
        format!("{what} at `{path}`. This is a bug in the provider, not in your configuration; please report it."),
    )
    .at(path.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Type;

    fn schema() -> Schema {
        Schema::new(vec![
            Attribute::new("id", Type::String)
                .computed()
                .use_state_for_unknown(),
            Attribute::new("name", Type::String).required(),
            Attribute::new("zone", Type::String)
                .optional()
                .requires_replace(),
            Attribute::new("revision", Type::Number).computed(),
            Attribute::new("enabled", Type::Bool)
                .optional()
                .computed()
                .default(Value::from(true)),
        ])
    }

    fn obj(name: &str, zone: Value, id: Value, rev: Value, enabled: Value) -> Value {
        Value::object([
            ("id", id),
            ("name", Value::from(name)),
            ("zone", zone),
            ("revision", rev),
            ("enabled", enabled),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = obj("a", Value::Null, Value::Null, Value::Null, Value::Null);
        let (planned, replace) = plan(&schema(), None, &config, &config);
        assert_eq!(
            planned,
            obj(
                "a",
                Value::Null,
                Value::Unknown,
                Value::Unknown,
                Value::from(true)
            )
        );
        assert!(replace.is_empty());
        assert!(check_planned(&schema(), &config, &planned).is_empty());
    }

    #[test]
    fn update_keeps_state_for_unknown_and_flags_replace() {
        let prior = obj(
            "a",
            Value::from("z1"),
            Value::from("id-1"),
            Value::from(3),
            Value::from(true),
        );
        let config = obj(
            "b",
            Value::from("z2"),
            Value::Null,
            Value::Null,
            Value::Null,
        );
        let proposed = obj(
            "b",
            Value::from("z2"),
            Value::from("id-1"),
            Value::from(3),
            Value::from(true),
        );
        let (planned, replace) = plan(&schema(), Some(&prior), &proposed, &config);
        assert_eq!(planned.get("id"), &Value::from("id-1"));
        assert_eq!(planned.get("revision"), &Value::Unknown);
        assert_eq!(replace, vec![AttrPath::root().attr("zone")]);
    }

    #[test]
    fn no_change_keeps_computed_values() {
        let prior = obj(
            "a",
            Value::Null,
            Value::from("id-1"),
            Value::from(3),
            Value::from(true),
        );
        let config = obj("a", Value::Null, Value::Null, Value::Null, Value::Null);
        let (planned, _) = plan(&schema(), Some(&prior), &prior, &config);
        assert_eq!(planned, prior);
    }

    #[test]
    fn new_set_elements_get_unknown_computed_attrs_and_defaults() {
        let schema = Schema::new(vec![Attribute::nested(
            "rules",
            Nesting::Set,
            vec![
                Attribute::new("port", Type::Number).required(),
                Attribute::new("id", Type::String).computed(),
                Attribute::new("proto", Type::String)
                    .optional()
                    .computed()
                    .default(Value::from("tcp")),
            ],
        )]);
        let rule = |port: i64| {
            Value::object([
                ("port", Value::from(port)),
                ("id", Value::Null),
                ("proto", Value::Null),
            ])
        };
        let config = Value::object([("rules", Value::set(vec![rule(443), rule(80)]))]);
        let (planned, _) = plan(&schema, None, &config, &config);
        let rules = planned.get("rules").as_list().unwrap();
        assert_eq!(rules.len(), 2);
        for r in rules {
            assert_eq!(r.get("id"), &Value::Unknown);
            assert_eq!(r.get("proto"), &Value::from("tcp"));
        }
        assert!(check_planned(&schema, &config, &planned).is_empty());
        // Applying must fill every unknown and keep what the plan knew.
        let applied_rule = |port: i64| {
            Value::object([
                ("port", Value::from(port)),
                ("id", Value::from(format!("r{port}"))),
                ("proto", Value::from("tcp")),
            ])
        };
        let applied = Value::object([(
            "rules",
            Value::set(vec![applied_rule(80), applied_rule(443)]),
        )]);
        assert!(check_applied(&planned, &applied).is_empty());
        let lost = Value::object([("rules", Value::set(vec![applied_rule(80)]))]);
        assert!(check_applied(&planned, &lost).has_errors());
    }

    #[test]
    fn self_checks_catch_provider_bugs() {
        let config = obj("a", Value::Null, Value::Null, Value::Null, Value::Null);
        let wrong_plan = obj(
            "changed",
            Value::Null,
            Value::Unknown,
            Value::Unknown,
            Value::from(true),
        );
        assert!(check_planned(&schema(), &config, &wrong_plan).has_errors());
        let planned = obj(
            "a",
            Value::Null,
            Value::Unknown,
            Value::Unknown,
            Value::from(true),
        );
        let applied_unknown = obj(
            "a",
            Value::Null,
            Value::Unknown,
            Value::from(1),
            Value::from(true),
        );
        assert!(check_applied(&planned, &applied_unknown).has_errors());
        let applied_diff = obj(
            "a",
            Value::Null,
            Value::from("x"),
            Value::from(1),
            Value::from(false),
        );
        let d = check_applied(&planned, &applied_diff);
        assert_eq!(d.0[0].path, Some(AttrPath::root().attr("enabled")), "{d}");
        let ok = obj(
            "a",
            Value::Null,
            Value::from("x"),
            Value::from(1),
            Value::from(true),
        );
        assert!(check_applied(&planned, &ok).is_empty());
    }
}
