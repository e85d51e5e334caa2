//! Runs the policy text `fwdauth_domain_restriction` compiles in the real
//! `python3`, in the context Authentik gives an application-bound expression
//! policy (the emulator's `expression.py`, which cites the Authentik source
//! each part comes from): `request.user` with username and e-mail,
//! `request.obj` = the application (its proxy provider's `external_host`),
//! `request.http_request` = the authorize request to the Authentik host,
//! `ak_is_group_member`. Every decision of the shared table is asserted, for
//! both `default_allow` values, and again with `X-Forwarded-Host` (and
//! `X-Original-URL`) claiming an allowed host, which must change nothing.

mod access_cases;

use access_cases::{
    APPS, DECISIONS, RULES, USERS, app, app_json, authorize_request, user, user_json,
};
use authentik_emulator::access::{PolicyResult, evaluate_expressions};
use authentik_forward_auth::policy::{self, Rule};
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
        let text = policy::compile("admin-services-restriction", &rules(), default_allow);
        for claim in [None, Some("chrome.example.com"), Some("k8s.example.com")] {
            let cases: Vec<Value> = DECISIONS
                .iter()
                .map(|(slug, key, _, _)| {
                    case(
                        &text,
                        app_json(slug, app(slug).external_host, "app-pk"),
                        user_json(user(key), 7),
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
    for (slug, key, deny_default, _) in DECISIONS {
        let u = user(key);
        let names: Vec<&str> = [u.username, u.email]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect();
        let admitted = policy::url_host(app(slug).external_host).is_some_and(|h| {
            policy::deciding_rule(&rules, &h).is_some_and(|r| {
                !names.is_empty()
                    && (names.iter().any(|n| r.users.contains(*n))
                        || u.groups.iter().any(|g| r.groups.contains(*g)))
            })
        });
        assert_eq!(admitted, *deny_default, "{slug}/{key}");
    }
}

#[test]
fn what_the_policy_cannot_decide_denies() {
    let text = policy::compile("r", &rules(), true);
    let viktor = user_json(user("viktor"), 1);
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
        case("return 'unclosed", a.clone(), u, Value::Null),
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
    assert_eq!(USERS.len(), 6);
    assert!(APPS.iter().all(|a| DECISIONS.iter().any(|d| d.0 == a.slug)));
}

/// Rule values are data, never code: a user name built to break out of its
/// string literal is matched literally, and the policy name only lands in a
/// comment.
#[test]
fn rule_values_cannot_inject_code() {
    let evil = "x\", \"y\"}, set()),\n]\nreturn True\n#";
    let rules = vec![Rule {
        host: "chrome.*".into(),
        users: [evil.to_string()].into_iter().collect(),
        groups: ["g\\\"\n".to_string()].into_iter().collect(),
    }];
    let text = policy::compile("name\nreturn True", &rules, false);
    let chrome = app_json("chrome", "https://chrome.example.com", "a");
    let named = json!({"pk": 1, "username": evil, "email": "", "groups": []});
    let results = run(&[
        case(
            &text,
            chrome.clone(),
            user_json(user("viktor"), 1),
            Value::Null,
        ),
        case(&text, chrome, named, Value::Null),
    ]);
    assert_eq!(
        results.iter().map(|r| r.passing).collect::<Vec<_>>(),
        [false, true],
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.messages.is_empty()), "{results:?}");
}
