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
use crate::plan_modifier::AttrPlan;
use crate::schema::{AttrType, Attribute, Nesting, Schema};
use crate::value::{AttrPath, Value};

/// Runs the SDK planner for a create or update. `proposed` is Terraform's
/// proposed new state (config merged with prior computed values). Returns
/// the planned state and the paths whose change replaces the resource.
pub fn plan(
    schema: &Schema,
    prior: Option<&Value>,
    proposed: &Value,
    config: &Value,
) -> (Value, Vec<AttrPath>) {
    let mut p = Planner {
        changed: prior.is_none_or(|p| p != proposed),
        updating: prior.is_some(),
        replace: Vec::new(),
    };
    let planned = p.attrs(
        &schema.block.attributes,
        &Here {
            at: &AttrPath::root(),
            report_at: None,
            prior,
            state: prior,
        },
        proposed,
        config,
    );
    let mut replace = p.replace;
    replace.dedup();
    (planned, replace)
}

struct Planner {
    /// False when the proposed state equals the prior one (a no-op plan
    /// keeps every computed value).
    changed: bool,
    /// A prior state exists: replacement can only be asked for an update.
    updating: bool,
    replace: Vec<AttrPath>,
}

/// Where the planner is in the value.
#[derive(Clone, Copy)]
struct Here<'a> {
    at: &'a AttrPath,
    /// Inside a set element, which has no path step: a replacement is
    /// reported at the set itself.
    report_at: Option<&'a AttrPath>,
    /// The object the computed values are carried from (see
    /// [`AttrPlan::prior`]).
    prior: Option<&'a Value>,
    /// The matching object of the prior state, for requires-replace.
    state: Option<&'a Value>,
}

impl Planner {
    fn attrs(
        &mut self,
        attrs: &[Attribute],
        here: &Here<'_>,
        proposed: &Value,
        config: &Value,
    ) -> Value {
        let Value::Object(mut out) = proposed.clone() else {
            return proposed.clone();
        };
        for a in attrs {
            let path = here.at.clone().attr(&a.name);
            let cfg = config.get(&a.name);
            let prior_v = here.prior.map(|p| p.get(&a.name));
            let state_v = here.state.map(|s| s.get(&a.name));
            let inner = Here {
                at: &path,
                report_at: here.report_at,
                prior: prior_v.filter(|p| !p.is_null()),
                state: state_v.filter(|s| !s.is_null()),
            };
            let base = if !cfg.is_null() {
                match (&a.ty, out.get(&a.name)) {
                    (AttrType::Nested(Nesting::Single, attrs), Some(v)) if !v.is_unknown() => {
                        self.attrs(attrs, &inner, v, cfg)
                    }
                    (AttrType::Nested(_, attrs), Some(v)) => self.elements(attrs, &inner, v, cfg),
                    (_, Some(v)) => v.clone(),
                    (_, None) => cfg.clone(),
                }
            } else if !a.computed {
                Value::Null
            } else {
                match prior_v {
                    Some(p) if !self.changed => p.clone(),
                    _ => Value::Unknown,
                }
            };
            let mut ap = AttrPlan {
                path: &path,
                config: cfg,
                prior: prior_v,
                planned: base,
                replace_if_changed: false,
            };
            for m in &a.plan_modifiers {
                m.modify(&mut ap);
            }
            let (planned, replace) = (ap.planned, ap.replace_if_changed);
            if replace && self.updating && state_v.unwrap_or(&Value::Null) != &planned {
                self.replace.push(here.report_at.unwrap_or(&path).clone());
            }
            out.insert(a.name.clone(), planned);
        }
        Value::Object(out)
    }

    /// Inside list/set/map nested attributes only configured elements exist;
    /// computed attributes of new elements become unknown, defaults apply.
    fn elements(
        &mut self,
        inner: &[Attribute],
        here: &Here<'_>,
        proposed: &Value,
        config: &Value,
    ) -> Value {
        let mut plan_one = |p: &Value, c: &Value, at: &AttrPath, report_at, state| {
            let has_prior_computed = inner
                .iter()
                .any(|a| a.computed && !p.get(&a.name).is_null());
            let elem = Here {
                at,
                report_at,
                prior: has_prior_computed.then_some(p),
                state,
            };
            let changed = std::mem::replace(&mut self.changed, true);
            let v = self.attrs(inner, &elem, p, c);
            self.changed = changed;
            v
        };
        let state = here.state;
        match (proposed, config) {
            (Value::List(p), Value::List(c)) => Value::List(
                p.iter()
                    .zip(c)
                    .enumerate()
                    .map(|(i, (p, c))| {
                        let at = here.at.clone().index(i as i64);
                        let st = state.and_then(|s| s.as_list()).and_then(|l| l.get(i));
                        plan_one(p, c, &at, here.report_at, st)
                    })
                    .collect(),
            ),
            (Value::Set(p), Value::Set(c)) if p.len() == c.len() => {
                let report_at = Some(here.report_at.unwrap_or(here.at));
                Value::set(
                    p.iter()
                        .zip(c)
                        .map(|(p, c)| {
                            // A set element is identified by its value: the
                            // prior element it still matches, if any.
                            let st = state
                                .and_then(|s| s.as_list())
                                .and_then(|l| l.iter().find(|s| compatible(p, s)));
                            plan_one(p, c, here.at, report_at, st)
                        })
                        .collect(),
                )
            }
            (Value::Map(p), Value::Map(c)) => Value::Map(
                p.iter()
                    .map(|(k, pv)| {
                        let at = here.at.clone().key(k);
                        let st = state.and_then(|s| s.as_map()).and_then(|m| m.get(k));
                        let cv = c.get(k).unwrap_or(&Value::Null);
                        (k.clone(), plan_one(pv, cv, &at, here.report_at, st))
                    })
                    .collect(),
            ),
            _ => proposed.clone(),
        }
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

    #[test]
    fn requires_replace_works_inside_nested_attributes() {
        let rule_attrs = || {
            vec![
                Attribute::new("port", Type::Number)
                    .required()
                    .requires_replace(),
                Attribute::new("note", Type::String).optional(),
            ]
        };
        let schema = Schema::new(vec![
            Attribute::nested("rules", Nesting::List, rule_attrs()).optional(),
            Attribute::nested("one", Nesting::Single, rule_attrs()).optional(),
            Attribute::nested("set", Nesting::Set, rule_attrs()).optional(),
        ]);
        let rule = |port: i64, note: &str| {
            Value::object([("port", Value::from(port)), ("note", Value::from(note))])
        };
        let state = |ports: [i64; 2], note: &str| {
            Value::object([
                (
                    "rules",
                    Value::List(vec![rule(ports[0], note), rule(ports[1], note)]),
                ),
                ("one", rule(ports[0], note)),
                (
                    "set",
                    Value::set(vec![rule(ports[0], note), rule(ports[1], note)]),
                ),
            ])
        };
        let prior = state([80, 443], "a");
        // Only a non-replacing attribute changed: an in-place update, except
        // in the set, where a changed element is a new element (it has no
        // identity but its value) and a new element setting `port` replaces.
        let notes = state([80, 443], "b");
        let (_, replace) = plan(&schema, Some(&prior), &notes, &notes);
        assert_eq!(replace, [AttrPath::root().attr("set")]);
        let same = state([80, 443], "a");
        let (_, replace) = plan(&schema, Some(&prior), &same, &same);
        assert!(replace.is_empty(), "{replace:?}");
        // A port changed at every depth: each path is named.
        let ports = state([80, 8443], "a");
        let (_, replace) = plan(&schema, Some(&prior), &ports, &ports);
        let shown: Vec<String> = replace.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["rules[1].port", "set"]);
        let moved = state([81, 443], "a");
        let (_, replace) = plan(&schema, Some(&prior), &moved, &moved);
        let shown: Vec<String> = replace.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["rules[0].port", "one.port", "set"]);
        // On create nothing is replaced.
        let (_, replace) = plan(&schema, None, &ports, &ports);
        assert!(replace.is_empty());
    }
}
