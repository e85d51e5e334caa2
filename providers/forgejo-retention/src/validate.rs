//! The retention provider's own attribute validators (the stock ones come
//! from `tfplugin::validator`). The SDK runs them at validate and again at
//! plan, once values unknown at validation are known.

use tfplugin::validator::{FnValidator, each, from_fn};
use tfplugin::value::Value;

use crate::names::path_safe;

/// A Forgejo owner or package name: nothing that could change the URL path
/// it goes into (the client checks again before every request).
pub fn forgejo_name() -> FnValidator {
    from_fn(
        "a Forgejo name: [A-Za-z0-9._:/-], no `..`",
        |v, name| match v.as_str() {
            Some(s) => path_safe(name, s),
            None => Ok(()),
        },
    )
}

/// A list of regexes (Rust `regex` syntax), each compiling; an error points
/// at the element.
pub fn regexes() -> impl tfplugin::validator::Validator {
    each(
        from_fn("a regex", |v, _| match v.as_str() {
            Some(r) => regex::Regex::new(r)
                .map(drop)
                .map_err(|e| format!("{r:?}: {e}")),
            None => Ok(()),
        })
        .summary("Invalid regex"),
    )
}

/// A whole number, 0 or more (a count of things kept or deleted).
pub fn count() -> FnValidator {
    from_fn("a whole number, 0 or more", |v, name| match v {
        Value::Number(n) if n.as_i64().is_none_or(|i| i < 0) => {
            Err(format!("{name} {n} is not a whole number, 0 or more"))
        }
        _ => Ok(()),
    })
}

/// A fraction between 0 and 1 (inclusive).
pub fn fraction() -> FnValidator {
    from_fn("a number between 0 and 1", |v, name| match v.as_f64() {
        Some(f) if !(0.0..=1.0).contains(&f) => Err(format!("{name} {f} is not between 0 and 1")),
        _ => Ok(()),
    })
}

#[cfg(test)]
mod tests {
    use tfplugin::diag::Diagnostics;
    use tfplugin::validator::Validator;
    use tfplugin::value::AttrPath;

    use super::*;

    fn run(v: &dyn Validator, attr: &str, value: Value) -> Diagnostics {
        let mut d = Diagnostics::default();
        v.validate(&value, &AttrPath::root().attr(attr), &mut d);
        d
    }

    #[test]
    fn each_validator_refuses_what_the_hand_written_checks_refused() {
        assert!(
            run(
                &regexes(),
                "keep_tag_patterns",
                Value::string_list(["(?i)cache", "^v"])
            )
            .is_empty()
        );
        let d = run(
            &regexes(),
            "keep_tag_patterns",
            Value::string_list(["ok", "("]),
        );
        assert_eq!(d.0[0].summary, "Invalid regex");
        assert!(d.0[0].detail.starts_with("\"(\": "), "{}", d.0[0].detail);
        assert_eq!(
            d.0[0].path.as_ref().unwrap().to_string(),
            "keep_tag_patterns[1]"
        );

        assert!(run(&fraction(), "max_fraction", Value::from(1)).is_empty());
        assert!(run(&fraction(), "max_fraction", Value::from(0)).is_empty());
        let d = run(&fraction(), "max_fraction", Value::from(2));
        assert_eq!(d.0[0].summary, "Invalid max_fraction");
        assert!(
            d.0[0].detail.contains("between 0 and 1"),
            "{}",
            d.0[0].detail
        );

        assert!(run(&count(), "keep_last", Value::from(0)).is_empty());
        assert!(run(&count(), "keep_last", Value::from(-1)).has_errors());

        assert!(run(&forgejo_name(), "owner", Value::from("team/web")).is_empty());
        for bad in ["", "../admin", "a?b"] {
            assert!(
                run(&forgejo_name(), "owner", Value::from(bad)).has_errors(),
                "{bad}"
            );
        }
    }
}
