//! Compiles host → allowed users/groups rules into the text of one Authentik
//! expression policy (Python), deterministically: rules sorted (exact hosts
//! first, then patterns, each alphabetically), names sorted and de-duplicated,
//! every string a safely escaped Python literal.

use std::collections::BTreeSet;

/// One host rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `app.example.com`, `chrome.*` (first label) or `*.example.com` (suffix).
    pub host: String,
    /// Usernames or e-mail addresses (matched against either).
    pub users: BTreeSet<String>,
    /// Group names.
    pub groups: BTreeSet<String>,
}

/// Checks a host pattern; returns a message naming the problem.
pub fn validate_host(host: &str) -> Result<(), String> {
    let core = host
        .strip_suffix(".*")
        .or_else(|| host.strip_prefix("*."))
        .unwrap_or(host);
    let ok = !core.is_empty()
        && core.len() <= 253
        && core.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host {host:?} must be a lower-case DNS name, `label.*` (matches that first label on any domain) or `*.suffix`"
        ))
    }
}

/// A Python string literal for `s` (double-quoted, escaped).
fn py(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn py_set(items: &BTreeSet<String>) -> String {
    if items.is_empty() {
        "set()".into()
    } else {
        format!(
            "{{{}}}",
            items.iter().map(|s| py(s)).collect::<Vec<_>>().join(", ")
        )
    }
}

/// Sort key: exact hosts, then `label.*`, then `*.suffix`; then by text.
fn order(r: &Rule) -> (u8, String) {
    let rank = if r.host.ends_with(".*") {
        1
    } else if r.host.starts_with("*.") {
        2
    } else {
        0
    };
    (rank, r.host.clone())
}

/// The policy text. `name` is only used in the header comment.
pub fn compile(name: &str, rules: &[Rule], default_allow: bool) -> String {
    let mut rules = rules.to_vec();
    rules.sort_by_key(order);
    let mut s = String::new();
    s.push_str(&format!(
        "# Managed by Terraform (fwdauth_domain_restriction {}). Do not edit here.\n",
        py(name)
    ));
    s.push_str(
        "# The first matching host rule decides: exact hosts, then `label.*`, then `*.suffix`.\n",
    );
    s.push_str("rules = [\n");
    for r in &rules {
        s.push_str(&format!(
            "    ({}, {}, {}),\n",
            py(&r.host),
            py_set(&r.users),
            py_set(&r.groups)
        ));
    }
    s.push_str("]\n");
    s.push_str(
        "req = request.http_request\n\
         host = (req.headers.get(\"X-Forwarded-Host\", \"\") if req else \"\").split(\":\")[0].lower()\n\
         user = request.user\n\
         for pattern, users, groups in rules:\n\
         \x20   if pattern.endswith(\".*\"):\n\
         \x20       hit = host.startswith(pattern[:-1])\n\
         \x20   elif pattern.startswith(\"*.\"):\n\
         \x20       hit = host.endswith(pattern[1:])\n\
         \x20   else:\n\
         \x20       hit = host == pattern\n\
         \x20   if hit:\n\
         \x20       if user.username in users or user.email in users:\n\
         \x20           return True\n\
         \x20       return any(ak_is_group_member(user, name=g) for g in groups)\n",
    );
    s.push_str(if default_allow {
        "return True\n"
    } else {
        "return False\n"
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(host: &str, users: &[&str], groups: &[&str]) -> Rule {
        Rule {
            host: host.into(),
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn output_is_independent_of_input_order() {
        let a = vec![
            rule("chrome.*", &["vbarzin@gmail.com", "akadmin"], &[]),
            rule(
                "k8s.example.com",
                &[],
                &["kubernetes-admins", "kubernetes-dev"],
            ),
            rule("*.lab.example.com", &[], &["Home Server Admins"]),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(compile("x", &a, true), compile("x", &b, true));
    }

    #[test]
    fn readable_exact_first_and_escaped() {
        let text = compile(
            "admin \"services\"",
            &[
                rule("chrome.*", &["b", "a"], &[]),
                rule("grafana.example.com", &[], &["ops"]),
            ],
            false,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "# Managed by Terraform (fwdauth_domain_restriction \"admin \\\"services\\\"\"). Do not edit here."
        );
        assert_eq!(lines[3], "    (\"grafana.example.com\", set(), {\"ops\"}),");
        assert_eq!(lines[4], "    (\"chrome.*\", {\"a\", \"b\"}, set()),");
        assert_eq!(*lines.last().unwrap(), "return False");
        assert!(py("a\nb\\").contains("\\u000a") && py("a\nb\\").ends_with("\\\\\""));
    }

    #[test]
    fn host_patterns() {
        for ok in ["chrome.*", "*.example.com", "a-b.example.com"] {
            validate_host(ok).unwrap();
        }
        for bad in ["", "Chrome.example.com", "a..b", "*", "x.*.y", "a b"] {
            assert!(validate_host(bad).is_err(), "{bad}");
        }
    }
}
