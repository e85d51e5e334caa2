//! Host → allowed users/groups rules, their validation, and their compilation
//! into the text of one Authentik expression policy (Python).
//!
//! Where the policy runs decides what it may read. Authentik evaluates an
//! application's policies once, when a user is authorized for it, on the
//! Authentik server (`authentik/policies/engine.py`: `request.obj` = the
//! application the binding belongs to, `request.http_request` = the request
//! of the view that asked, i.e. one to the Authentik host, never the
//! protected host). So the compiled text names the host by `request.obj`: the
//! `external_host` of the application's proxy provider
//! (`Application.get_provider()`, `authentik/core/models.py`), and reads no
//! request header. Anything it cannot decide (no application, no provider, a
//! host that is not a plain DNS name, a user without an integer primary key
//! or with neither username nor e-mail) denies, whatever `default_allow` says.
//!
//! Users are admitted by `request.user.pk`, never by name. Authentik's
//! `User` is Django's `AbstractUser`: `username` is unique but may be any
//! string of letters, digits and `@.+-_` (so a new account may be named
//! `vbarzin@gmail.com`), and `email` is neither unique nor verified
//! (`authentik/core/models.py`; the prompt stage checks only usernames for
//! duplicates, `authentik/stages/prompt/stage.py`). A name in a rule is
//! resolved to one account at plan time (`accounts.rs`) and the policy
//! admits that account's primary key, with the name in a comment.
//!
//! The text is deterministic: rules sorted (exact hosts; then `label.*`; then
//! `*.suffix`, the longest suffix first), names and keys sorted and
//! de-duplicated, every string a safely escaped, ASCII-only Python literal
//! (comments included, so no value can end a comment line).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// One host rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `app.example.com`, `chrome.*` (first label) or `*.example.com` (suffix).
    pub host: String,
    /// Users as written: each a username or e-mail address that names one
    /// account ([`UserIds`] holds the account each was resolved to).
    pub users: BTreeSet<String>,
    /// Group names.
    pub groups: BTreeSet<String>,
}

/// The form of a host pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Exact,
    /// `label.*`: the host's first label, on any domain.
    Label,
    /// `*.suffix`: any host under the suffix (not the suffix itself).
    Suffix,
}

fn form(host: &str) -> Form {
    if host.ends_with(".*") {
        Form::Label
    } else if host.starts_with("*.") {
        Form::Suffix
    } else {
        Form::Exact
    }
}

/// An RFC 1123 label: 1–63 of `a-z0-9-`, not starting or ending with `-`.
fn label_ok(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && !l.starts_with('-')
        && !l.ends_with('-')
        && l.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An RFC 1123 host name in lower case (at most 253 characters).
fn hostname_ok(h: &str) -> bool {
    h.len() <= 253 && h.split('.').all(label_ok)
}

/// Checks a host pattern; returns a message naming the problem.
pub fn validate_host(host: &str) -> Result<(), String> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "host {host:?} must be lower case (write {:?})",
            host.to_ascii_lowercase()
        ));
    }
    let ok = match form(host) {
        Form::Label => label_ok(&host[..host.len() - 2]),
        Form::Suffix => hostname_ok(&host[2..]),
        Form::Exact => hostname_ok(host),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host {host:?} must be an RFC 1123 host name (`app.example.com`), `label.*` (one label, on any domain) or `*.suffix` (any host under suffix); no other wildcard"
        ))
    }
}

/// The host of an `external_host` URL, as the compiled policy reads it:
/// lower-cased ASCII, None unless it is a plain RFC 1123 name (no user info,
/// no non-ASCII, no empty label). The policy text does the same in Python.
pub fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    if !host.is_ascii() {
        return None;
    }
    let host = host.to_ascii_lowercase();
    hostname_ok(&host).then_some(host)
}

/// Whether `pattern` covers `host` (a host from [`url_host`]).
pub fn matches(pattern: &str, host: &str) -> bool {
    match form(pattern) {
        Form::Label => host
            .split_once('.')
            .is_some_and(|(first, _)| first == &pattern[..pattern.len() - 2]),
        Form::Suffix => host.ends_with(&pattern[1..]),
        Form::Exact => host == pattern,
    }
}

/// A user entry as written in a rule → the primary key (`User.pk`) of the one
/// Authentik account it names. An entry missing here admits nobody.
pub type UserIds = BTreeMap<String, i64>;

/// A Python string literal for `s`: double-quoted, ASCII only (control and
/// non-ASCII characters as `\u`/`\U` escapes, which Python reads back as
/// the same string), so it never spans or ends a line.
fn py(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The set of primary keys a rule admits, one per line with the entries
/// that resolved to it in a comment.
fn py_ids(users: &BTreeSet<String>, ids: &UserIds) -> String {
    let mut by_pk: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for u in users {
        if let Some(pk) = ids.get(u) {
            by_pk.entry(*pk).or_default().push(u);
        }
    }
    if by_pk.is_empty() {
        return "set()".into();
    }
    let mut out = String::from("{\n");
    for (pk, names) in by_pk {
        let names: Vec<String> = names.iter().map(|n| py(n)).collect();
        out.push_str(&format!("        {pk},  # {}\n", names.join(", ")));
    }
    out.push_str("    }");
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

/// Precedence: exact hosts, then `label.*`, then `*.suffix` with the most
/// labels first (so `*.lab.example.com` wins over `*.example.com`); then text.
fn order(r: &Rule) -> (u8, Reverse<usize>, String) {
    let rank = match form(&r.host) {
        Form::Exact => 0,
        Form::Label => 1,
        Form::Suffix => 2,
    };
    (rank, Reverse(r.host.split('.').count()), r.host.clone())
}

/// Rules in the order the policy tries them.
pub fn sorted(rules: &[Rule]) -> Vec<Rule> {
    let mut rules = rules.to_vec();
    rules.sort_by_key(order);
    rules
}

/// The rule that decides for `host`, if any (the first match in [`sorted`]).
pub fn deciding_rule<'a>(rules: &'a [Rule], host: &str) -> Option<&'a Rule> {
    let mut by_order: Vec<&Rule> = rules.iter().collect();
    by_order.sort_by_key(|r| order(r));
    by_order.into_iter().find(|r| matches(&r.host, host))
}

/// The body after the rules: find the host from `request.obj`, then decide.
/// Mirrors [`url_host`] and [`matches`].
const DECIDE: &str = r##"app = request.obj
get_provider = getattr(app, "get_provider", None)
provider = get_provider() if callable(get_provider) else None
url = getattr(provider, "external_host", None)
if not isinstance(url, str):
    return False
scheme, sep, rest = url.partition("://")
if not sep or scheme.lower() not in ("http", "https"):
    return False
authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
host, colon, port = authority.partition(":")
if colon and not (port.isascii() and port.isdigit()):
    return False
if not host.isascii():
    return False
host = host.lower()
labels = host.split(".")
letters = "abcdefghijklmnopqrstuvwxyz0123456789-"
if len(host) > 253 or not all(0 < len(l) <= 63 and l[0] != "-" and l[-1] != "-" and all(c in letters for c in l) for l in labels):
    return False
user = request.user
uid = getattr(user, "pk", None)
if type(uid) is not int:
    return False
if not any(isinstance(getattr(user, f, None), str) and getattr(user, f) for f in ("username", "email")):
    return False
for pattern, users, groups in rules:
    if pattern.endswith(".*"):
        hit = len(labels) > 1 and labels[0] == pattern[:-2]
    elif pattern.startswith("*."):
        hit = host.endswith(pattern[1:])
    else:
        hit = host == pattern
    if hit:
        if uid in users:
            return True
        return any(ak_is_group_member(user, name=g) for g in sorted(groups))
"##;

/// The policy text: `ids` holds the account each user entry names (see
/// [`UserIds`]); `name` is only used in the header comment.
pub fn compile(name: &str, rules: &[Rule], ids: &UserIds, default_allow: bool) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# Managed by Terraform (fwdauth_domain_restriction {}). Do not edit here.\n",
        py(name)
    ));
    s.push_str(
        "# Bound to each protected application; Authentik runs it when a user is authorized\n\
         # for one (request.obj = that application). The host is the application's proxy\n\
         # provider's external_host; no request header is read. What it cannot decide denies.\n\
         # The first matching rule decides: exact hosts, then `label.*`, then `*.suffix`.\n\
         # Users are admitted by primary key (request.user.pk), the names they were listed by\n\
         # in comments: usernames can be taken over and e-mail addresses are not unique.\n",
    );
    s.push_str("rules = [\n");
    for r in sorted(rules) {
        s.push_str(&format!(
            "    ({}, {}, {}),\n",
            py(&r.host),
            py_ids(&r.users, ids),
            py_set(&r.groups)
        ));
    }
    s.push_str("]\n");
    s.push_str(DECIDE);
    // No trailing newline: Authentik's serializer strips surrounding white
    // space from `expression` (DRF CharField `trim_whitespace`), and the
    // text read back must equal the text planned.
    s.push_str(if default_allow {
        "return True"
    } else {
        "return False"
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

    fn ids(pairs: &[(&str, i64)]) -> UserIds {
        pairs.iter().map(|(n, pk)| (n.to_string(), *pk)).collect()
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
        let ids = ids(&[("vbarzin@gmail.com", 5), ("akadmin", 1)]);
        assert_eq!(compile("x", &a, &ids, true), compile("x", &b, &ids, true));
    }

    #[test]
    fn readable_exact_first_and_escaped() {
        let text = compile(
            "admin \"services\"",
            &[
                rule("*.example.com", &[], &["all"]),
                rule("*.lab.example.com", &[], &["lab"]),
                rule("chrome.*", &["b", "a", "vbarzin@gmail.com"], &[]),
                rule("grafana.example.com", &[], &["ops"]),
            ],
            &ids(&[("a", 12), ("b", 3), ("vbarzin@gmail.com", 3)]),
            false,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "# Managed by Terraform (fwdauth_domain_restriction \"admin \\\"services\\\"\"). Do not edit here."
        );
        let start = lines.iter().position(|l| *l == "rules = [").unwrap();
        assert_eq!(
            &lines[start + 1..start + 9],
            &[
                "    (\"grafana.example.com\", set(), {\"ops\"}),",
                "    (\"chrome.*\", {",
                "        3,  # \"b\", \"vbarzin@gmail.com\"",
                "        12,  # \"a\"",
                "    }, set()),",
                "    (\"*.lab.example.com\", set(), {\"lab\"}),",
                "    (\"*.example.com\", set(), {\"all\"}),",
                "]",
            ]
        );
        assert_eq!(*lines.last().unwrap(), "return False");
        assert!(text.contains("if uid in users:"));
        assert!(!text.contains("X-Forwarded") && !text.contains("headers"));
        assert!(py("a\nb\\").contains("\\u000a") && py("a\nb\\").ends_with("\\\\\""));
        // ASCII only: nothing can end a comment line or hide in look-alikes.
        assert_eq!(py("\u{2028}é\u{1F600}"), "\"\\u2028\\u00e9\\U0001f600\"");
    }

    #[test]
    fn unresolved_entries_admit_nobody() {
        let text = compile(
            "r",
            &[rule("chrome.*", &["gone"], &["ops"])],
            &UserIds::new(),
            true,
        );
        assert!(
            text.contains("    (\"chrome.*\", set(), {\"ops\"}),"),
            "{text}"
        );
        assert!(!text.contains("gone"));
    }

    #[test]
    fn host_patterns() {
        for ok in [
            "chrome.*",
            "*.example.com",
            "a-b.example.com",
            "x",
            "1password.example.com",
        ] {
            validate_host(ok).unwrap();
        }
        for bad in [
            "",
            "Chrome.example.com",
            "a..b",
            "*",
            "x.*.y",
            "a b",
            "a.b.*",
            "*.*.example.com",
            "-a.example.com",
            "a-.example.com",
            "chrome.example.com.",
            "chrоme.example.com",
            "*example.com",
            "chrome*",
            "a@b.example.com",
        ] {
            assert!(validate_host(bad).is_err(), "{bad}");
        }
        assert!(
            validate_host("Chrome.example.com")
                .unwrap_err()
                .contains("lower case")
        );
    }

    #[test]
    fn url_hosts_and_matching() {
        assert_eq!(
            url_host("https://Chrome.Example.com:8443/x?y#z").as_deref(),
            Some("chrome.example.com")
        );
        for bad in [
            "chrome.example.com",
            "ftp://chrome.example.com",
            "https://chrome.example.com@evil",
            "https://evil@chrome.example.com",
            "https://chrome.example.com\n.evil.net",
            "https://chrоme.example.com",
            "https://\u{212A}8s.example.com",
            "https://chrome.example.com:",
            "https://chrome.example.com:80x",
            "https://chrome.example.com.",
            "https://[::1]/",
        ] {
            assert_eq!(url_host(bad), None, "{bad:?}");
        }
        assert!(matches("chrome.*", "chrome.example.com.evil.net"));
        assert!(!matches("chrome.*", "chrome"));
        assert!(!matches("chrome.*", "chromex.example.com"));
        assert!(matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "evilexample.com"));
        assert!(!matches(
            "chrome.example.com",
            "chrome.example.com.evil.net"
        ));
        let rules = [
            rule("*.example.com", &[], &["all"]),
            rule("chrome.*", &["v"], &[]),
            rule("chrome.example.com", &["e"], &[]),
        ];
        assert_eq!(
            deciding_rule(&rules, "chrome.example.com").unwrap().host,
            "chrome.example.com"
        );
        assert_eq!(
            deciding_rule(&rules, "chrome.example.org").unwrap().host,
            "chrome.*"
        );
        assert_eq!(
            deciding_rule(&rules, "x.example.com").unwrap().host,
            "*.example.com"
        );
        assert!(deciding_rule(&rules, "x.example.org").is_none());
    }
}
