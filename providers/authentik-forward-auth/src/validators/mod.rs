//! This provider's attribute validators: what Authentik's serializers would
//! refuse at apply, refused at plan with the attribute named (the SDK runs
//! them at validation and again at plan, once values are known). The stock
//! validators of `tfplugin::validator` are used where they say the same;
//! checks that span attributes stay in each resource's `validate`.

pub mod timedelta;
pub mod url;

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::validator::{FnValidator, Validator, attr_name, from_fn};
use tfplugin::value::{AttrPath, Value};

use crate::host_rules;

/// A URL with an http or https scheme (the rest is the server's to judge).
pub fn http_url() -> FnValidator {
    from_fn("an http(s) URL", |v, name| match v.as_str() {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
            Err(format!("{name} {u:?} must start with http:// or https://"))
        }
        _ => Ok(()),
    })
}

/// No white space at either end. DRF's CharField strips it
/// (`trim_whitespace=True`): Authentik would store another value than the
/// configuration's, and every plan would show it as drift.
#[derive(Debug)]
pub struct Trimmed;

impl Validator for Trimmed {
    fn description(&self) -> String {
        "no white space at either end".into()
    }
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        let attr = attr_name(at);
        if let Some(v) = value.as_str()
            && v.trim() != v
        {
            diags.push(
                Diagnostic::error(
                    format!("White space around {attr}"),
                    format!("{attr} {v:?} starts or ends with white space, which Authentik strips when it stores the value, so every plan would show a change. Remove it (for a heredoc: chomp(...) or trimspace(...))."),
                )
                .at(at.clone()),
            );
        }
    }
}

/// Regular expressions, one per line (blank lines skipped), each one the
/// outpost can compile; one error per line that does not.
#[derive(Debug)]
pub struct RegexLines;

impl Validator for RegexLines {
    fn description(&self) -> String {
        "regular expressions, one per line".into()
    }
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        let Some(text) = value.as_str() else { return };
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Err(e) = regex::Regex::new(line) {
                diags.push(
                    Diagnostic::error(
                        format!("Invalid {}", attr_name(at)),
                        format!("{line:?}: {e}"),
                    )
                    .at(at.clone()),
                );
            }
        }
    }
}

/// A restriction rule's host pattern (see [`host_rules::validate_host`]).
pub fn host_pattern() -> FnValidator {
    from_fn("a lower-case host name, `label.*` or `*.suffix`", |v, _| {
        v.as_str().map_or(Ok(()), host_rules::validate_host)
    })
}

/// A set of names none of which is blank; reported once, at the set
/// (`rules[0].users`).
#[derive(Debug)]
pub struct NoBlankName;

impl Validator for NoBlankName {
    fn description(&self) -> String {
        "names, none blank".into()
    }
    fn validate(&self, value: &Value, at: &AttrPath, diags: &mut Diagnostics) {
        if value.strings().iter().any(|n: &String| n.trim().is_empty()) {
            let attr = attr_name(at);
            diags.push(
                Diagnostic::error(
                    format!("Empty name in {attr}"),
                    format!("{at} holds an empty string; name users by username or e-mail address, groups by name."),
                )
                .at(at.clone()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &dyn Validator, value: Value, at: AttrPath) -> Diagnostics {
        let mut d = Diagnostics::default();
        v.validate(&value, &at, &mut d);
        d
    }

    #[test]
    fn each_names_the_attribute_and_the_value() {
        let at = AttrPath::root().attr("name");
        let d = run(&Trimmed, Value::from("X "), at.clone());
        assert_eq!(d.0[0].summary, "White space around name");
        assert!(run(&Trimmed, Value::from("X"), at.clone()).is_empty());

        let d = run(&RegexLines, Value::from("^/ok$\n(\n\n[\n"), at.clone());
        assert_eq!(d.0.len(), 2, "{d:?}");
        assert!(d.0[0].detail.starts_with("\"(\":"), "{d:?}");

        let users = AttrPath::root().attr("rules").index(1).attr("users");
        let d = run(&NoBlankName, Value::string_set(["a", " "]), users.clone());
        assert_eq!(d.0[0].summary, "Empty name in users");
        assert!(d.0[0].detail.starts_with("rules[1].users holds"), "{d:?}");
        assert_eq!(d.0[0].path, Some(users));

        let url = AttrPath::root().attr("url");
        let d = run(&http_url(), Value::from("authentik.test"), url.clone());
        assert_eq!(d.0[0].summary, "Invalid url");
        assert!(run(&http_url(), Value::from("https://a.test"), url).is_empty());
    }
}
