//! Runs the policy text `fwdauth_domain_restriction` compiles in the real
//! `python3`, in the context Authentik gives an application-bound expression
//! policy (the emulator's `expression.py`, which cites the Authentik source
//! each part comes from): `request.user` with its integer `pk`, username and
//! e-mail, `request.obj` = the application (its proxy provider's
//! `external_host`), `request.http_request` = the authorize request to the
//! Authentik host, `ak_is_group_member`. The rules' users are resolved to
//! accounts by the provider's own resolver (`accounts::resolve`) against the
//! accounts that exist at plan time; every decision of the shared table is
//! asserted, hostile accounts that arrive later included, for both
//! `default_allow` values, and again with `X-Forwarded-Host` (and
//! `X-Original-URL`) claiming an allowed host, which must change nothing.

mod access_cases;

use std::collections::BTreeMap;

use access_cases::{
    APPS, DECISIONS, RULES, USERS, accounts_after, accounts_before, app, app_json,
    authorize_request, user, user_json,
};
use authentik_emulator::access::{PolicyResult, evaluate_expressions};
use authentik_forward_auth::accounts;
use authentik_forward_auth::host_rules::{self, Rule, UserIds};
use serde_json::{Value, json};

fn rules() -> Vec<Rule> {
    RULES
        .iter()
        .map(|(host, users, groups)| Rule {
            host: host.to_string(),
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}

/// The table's rules resolved as the plan resolves them, before the hostile
/// accounts exist.
fn ids() -> UserIds {
    let (resolved, d) = accounts::resolve(&accounts_before(), &rules(), &BTreeMap::new());
    assert!(d.is_empty(), "{d:?}");
    resolved
}

fn case(expression: &str, obj: Value, user: Value, http_request: Value) -> Value {
    json!({"name": "admin-services-restriction", "expression": expression,
           "user": user, "obj": obj, "http_request": http_request, "context": {}})
}

fn run(cases: &[Value]) -> Vec<PolicyResult> {
    evaluate_expressions(cases).expect("python3 runs the policy")
}

#[test]
fn every_decision_of_the_table() {
    for default_allow in [false, true] {
        let text = host_rules::compile(
            "admin-services-restriction",
            &rules(),
            &ids(),
            default_allow,
        );
        for claim in [None, Some("chrome.example.com"), Some("k8s.example.com")] {
            let cases: Vec<Value> = DECISIONS
                .iter()
                .map(|(slug, key, _, _)| {
                    case(
                        &text,
                        app_json(slug, app(slug).external_host, "app-pk"),
                        user_json(user(key), user(key).pk),
                        authorize_request(claim),
                    )
                })
                .collect();
            let results = run(&cases);
            for ((slug, key, deny_default, allow_default), r) in DECISIONS.iter().zip(&results) {
                let want = if default_allow {
                    *allow_default
                } else {
                    *deny_default
                };
                assert!(
                    r.messages.is_empty(),
                    "{slug}/{key}: the policy raised: {:?}",
                    r.messages
                );
                assert_eq!(
                    r.passing,
                    want,
                    "{} ({:?}) for {key}, default_allow = {default_allow}, X-Forwarded-Host = {claim:?}",
                    app(slug).what,
                    app(slug).external_host
                );
            }
        }
    }
}

/// The Rust side's view of the same decisions (used for the plan-time
/// warnings) agrees with what Python decides.
#[test]
fn rust_host_parsing_agrees_with_the_policy() {
    let rules = rules();
    let ids = ids();
    for (slug, key, deny_default, _) in DECISIONS {
        let u = user(key);
        let named = !u.username.is_empty() || !u.email.is_empty();
        let admitted = host_rules::url_host(app(slug).external_host).is_some_and(|h| {
            host_rules::deciding_rule(&rules, &h).is_some_and(|r| {
                named
                    && (r.users.iter().any(|e| ids.get(e) == Some(&u.pk))
                        || u.groups.iter().any(|g| r.groups.contains(*g)))
            })
        });
        assert_eq!(admitted, *deny_default, "{slug}/{key}");
    }
}

/// The accounts that arrive after the apply make the next plan fail: the
/// e-mail entry answers to several accounts, and the renamed user's old
/// username now leads to another live account. Until someone decides, the
/// stored policy keeps admitting the accounts it names (the table above).
#[test]
fn hostile_accounts_fail_the_next_plan() {
    let (before, d) = accounts::resolve(&accounts_before(), &rules(), &BTreeMap::new());
    assert!(d.is_empty(), "{d:?}");
    let (after, d) = accounts::resolve(&accounts_after(), &rules(), &before);
    let errors: Vec<(String, String)> =
        d.0.iter()
            .map(|x| (x.summary.clone(), format!("{:?}", x.path)))
            .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_eq!(errors[0].0, "User \"vbarzin@gmail.com\" is ambiguous");
    assert!(errors[0].1.contains("\"rules\"") && errors[0].1.contains("Index(0)"));
    let detail = &d.0[0].detail;
    for pk in ["pk 5 ", "pk 9 ", "pk 10 ", "pk 11 "] {
        assert!(detail.contains(pk), "{pk}: {detail}");
    }
    assert_eq!(errors[1].0, "User \"emo\" now names another account");
    assert!(d.0[1].detail.contains("now pk 6 (username \"emo-old\""));
    assert!(d.0[1].detail.contains("pk 12 (username \"emo\""));
    // akadmin still names pk 1; nothing else resolves.
    assert_eq!(after, UserIds::from([("akadmin".into(), 1)]));
}

/// Names are never compared in the policy: an account that carries an
/// allowed user's username and e-mail address exactly, under another
/// primary key (a deleted user recreated, say), is denied until the plan
/// resolves the entry again; a primary key that is not an integer (a
/// string, a float, a bool, which Python would compare equal to 1) denies.
#[test]
fn only_the_primary_key_admits() {
    let text = host_rules::compile("r", &rules(), &ids(), false);
    let chrome = app_json("chrome", "https://chrome.example.com", "a");
    let as_pk = |pk: Value, who: &str| {
        let mut u = user_json(user(who), 0);
        u["pk"] = pk;
        case(&text, chrome.clone(), u, Value::Null)
    };
    let results = run(&[
        as_pk(json!(5), "viktor"),
        as_pk(json!(99), "viktor"),
        as_pk(json!(1), "akadmin"),
        as_pk(json!(true), "akadmin"),
        as_pk(json!(1.0), "akadmin"),
        as_pk(json!("1"), "akadmin"),
        as_pk(Value::Null, "akadmin"),
    ]);
    assert_eq!(
        results.iter().map(|r| r.passing).collect::<Vec<_>>(),
        [true, false, true, false, false, false, false],
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.messages.is_empty()), "{results:?}");
    assert!(text.contains("        1,  # \"akadmin\"\n"), "{text}");
    assert!(
        text.contains("        5,  # \"vbarzin@gmail.com\"\n"),
        "{text}"
    );
}

#[test]
fn what_the_policy_cannot_decide_denies() {
    let text = host_rules::compile("r", &rules(), &ids(), true);
    let viktor = user_json(user("viktor"), 5);
    let no_provider = json!({"pk": "a", "slug": "chrome", "name": "chrome", "provider": null});
    let not_a_url = app_json("x", "chrome.example.com", "a");
    let results = run(&[
        case(
            &text,
            Value::Null,
            viktor.clone(),
            authorize_request(Some("chrome.example.com")),
        ),
        case(&text, no_provider, viktor.clone(), authorize_request(None)),
        case(&text, not_a_url, viktor.clone(), authorize_request(None)),
        case(
            &text,
            app_json("other", app("other").external_host, "a"),
            user_json(user("blank"), 2),
            authorize_request(None),
        ),
        // Sanity: the same user on a host no rule names is admitted here.
        case(
            &text,
            app_json("other", app("other").external_host, "a"),
            viktor,
            Value::Null,
        ),
    ]);
    let passing: Vec<bool> = results.iter().map(|r| r.passing).collect();
    assert_eq!(passing, [false, false, false, false, true], "{results:?}");
}

/// The harness itself follows Authentik's evaluator: errors fail with the
/// error as message, None fails, truthy passes, ak_message is collected,
/// and the policy body runs as a function (a bare `return` is legal).
#[test]
fn the_harness_evaluates_like_authentik() {
    let u = user_json(user("emo"), 3);
    let a = app_json("grafana", app("grafana").external_host, "a");
    let results = run(&[
        case(
            "return request.obj.get_provider().external_host == 'https://grafana.example.com'",
            a.clone(),
            u.clone(),
            Value::Null,
        ),
        case(
            "ak_message('no')\nreturn None",
            a.clone(),
            u.clone(),
            Value::Null,
        ),
        case("return 1 / 0", a.clone(), u.clone(), Value::Null),
        case(
            "return ak_is_group_member(request.user, name='Home Server Admins')",
            a.clone(),
            u.clone(),
            Value::Null,
        ),
        case(
            "return request.http_request.headers.get('x-forwarded-host')",
            a.clone(),
            u.clone(),
            authorize_request(Some("chrome.example.com")),
        ),
        case("return 'unclosed", a.clone(), u.clone(), Value::Null),
        // User.pk is the integer primary key Django's Model also names id.
        case(
            "return type(request.user.pk) is int and request.user.pk == request.user.id == 3",
            a.clone(),
            u,
            Value::Null,
        ),
    ]);
    assert!(results[0].passing);
    assert_eq!(
        results[1],
        PolicyResult {
            passing: false,
            messages: vec!["no".into()]
        }
    );
    assert!(!results[2].passing && results[2].messages[0].contains("division by zero"));
    assert!(results[3].passing);
    // The header is there to read (and the compiled policy never reads it).
    assert!(results[4].passing);
    assert!(!results[5].passing && !results[5].messages.is_empty());
    assert!(results[6].passing, "{:?}", results[6]);
    assert_eq!(USERS.len(), 10);
    assert!(APPS.iter().all(|a| DECISIONS.iter().any(|d| d.0 == a.slug)));
}

/// Rule values are data, never code: user entries built to end their
/// comment line (newline, carriage return, Unicode line and paragraph
/// separators, form feed) or their string literal stay in the comment next
/// to the primary key they resolved to, a group name stays a literal, and
/// the policy name only lands in a comment.
#[test]
fn rule_values_cannot_inject_code() {
    let evil = [
        "x\", \"y\"}, set()),\n]\nreturn True\n#",
        "a\rreturn True",
        "b\u{2028}return True",
        "c\u{2029}return True",
        "d\u{0c}return True",
        "e\u{85}return True",
    ];
    let rules = vec![Rule {
        host: "chrome.*".into(),
        users: evil.iter().map(|s| s.to_string()).collect(),
        groups: ["g\\\"\n".to_string()].into_iter().collect(),
    }];
    let ids: UserIds = evil
        .iter()
        .enumerate()
        .map(|(i, e)| (e.to_string(), 40 + i as i64))
        .collect();
    let text = host_rules::compile("name\nreturn True", &rules, &ids, false);
    assert!(text.is_ascii(), "{text}");
    let chrome = app_json("chrome", "https://chrome.example.com", "a");
    let named = |pk: i64| json!({"pk": pk, "username": evil[0], "email": "", "groups": []});
    let results = run(&[
        case(
            &text,
            chrome.clone(),
            user_json(user("viktor"), 5),
            Value::Null,
        ),
        case(&text, chrome.clone(), named(7), Value::Null),
        case(&text, chrome.clone(), named(40), Value::Null),
        case(&text, chrome, named(45), Value::Null),
    ]);
    assert_eq!(
        results.iter().map(|r| r.passing).collect::<Vec<_>>(),
        [false, false, true, true],
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.messages.is_empty()), "{results:?}");
}
