//! The emulator's policy engine and `check_access`, held to Authentik's
//! rules (see `src/access.rs` for the source each comes from).

use authentik_emulator::{DEFAULT_TOKEN, Emulator};
use serde_json::{Value, json};

fn check(emu: &Emulator, slug: &str, query: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v3/core/applications/{slug}/check_access/{query}",
            emu.url()
        ))
        .bearer_auth(DEFAULT_TOKEN);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}

struct World {
    app: Value,
    parent: Value,
    child: Value,
    alice: i64,
    bob: i64,
}

fn world(emu: &Emulator, mode: &str) -> World {
    emu.with(|i| {
        let parent = i.store.insert_unchecked("core/groups", json!({"name": "admins"}));
        let child = i
            .store
            .insert_unchecked("core/groups", json!({"name": "admins-child", "parents": [parent["pk"]]}));
        let alice = i.store.insert_unchecked(
            "core/users",
            json!({"username": "alice", "name": "A", "email": "alice@example.com", "groups": [child["pk"]]}),
        );
        let bob = i.store.insert_unchecked(
            "core/users",
            json!({"username": "bob", "name": "B", "email": "bob@example.com"}),
        );
        let prov = i.store.insert_unchecked(
            "providers/proxy",
            json!({"name": "app", "external_host": "https://app.example.com", "mode": "forward_single"}),
        );
        let app = i.store.insert_unchecked(
            "core/applications",
            json!({"name": "app", "slug": "app", "provider": prov["pk"], "policy_engine_mode": mode}),
        );
        World {
            app,
            parent,
            child,
            alice: alice["pk"].as_i64().unwrap(),
            bob: bob["pk"].as_i64().unwrap(),
        }
    })
}

fn bind(emu: &Emulator, w: &World, what: Value) {
    emu.with(|i| {
        let mut b = json!({"target": w.app["pk"], "order": 0});
        for (k, v) in what.as_object().unwrap() {
            b[k] = v.clone();
        }
        i.store.insert_unchecked("policies/bindings", b);
    });
}

fn expression(emu: &Emulator, name: &str, text: &str) -> Value {
    emu.with(|i| {
        i.store.insert_unchecked(
            "policies/expression",
            json!({"name": name, "expression": text}),
        )["pk"]
            .clone()
    })
}

fn passing(emu: &Emulator, user: i64) -> bool {
    let (st, r) = check(emu, "app", &format!("?for_user={user}"), &[]);
    assert_eq!(st, 200, "{r}");
    r["passing"].as_bool().unwrap()
}

#[test]
fn answers_and_errors_have_authentiks_shape() {
    let emu = Emulator::start();
    let w = world(&emu, "any");
    let (st, r) = check(&emu, "app", &format!("?for_user={}", w.bob), &[]);
    assert_eq!(st, 200);
    // No bindings: everyone passes (engine.py empty_result).
    assert_eq!(
        r,
        json!({"passing": true, "messages": [], "log_messages": []})
    );
    assert_eq!(check(&emu, "nope", "?for_user=1", &[]).0, 404);
    // applications.py check_access: an unknown user is a 400 on `for_user`.
    assert_eq!(check(&emu, "app", "?for_user=999", &[]).0, 400);
    assert_eq!(check(&emu, "app", "?for_user=abc", &[]).0, 400);
    // Without for_user: the token's user (akadmin).
    assert_eq!(check(&emu, "app", "", &[]).0, 200);
}

#[test]
fn group_user_and_negated_bindings() {
    let emu = Emulator::start();
    let w = world(&emu, "any");
    // Alice is in admins-child, so a member of admins (ancestors count).
    bind(&emu, &w, json!({"group": w.parent["pk"]}));
    assert!(passing(&emu, w.alice));
    assert!(!passing(&emu, w.bob));
    // A user binding admits bob too ("any").
    bind(&emu, &w, json!({"user": w.bob, "order": 1}));
    assert!(passing(&emu, w.bob));
    // A disabled binding counts for nothing.
    let emu2 = Emulator::start();
    let w2 = world(&emu2, "any");
    bind(&emu2, &w2, json!({"user": w2.alice, "enabled": false}));
    bind(
        &emu2,
        &w2,
        json!({"group": w2.child["pk"], "negate": true, "order": 1}),
    );
    assert!(
        !passing(&emu2, w2.alice),
        "negated: members of the child group are refused"
    );
    assert!(passing(&emu2, w2.bob));
}

#[test]
fn all_mode_needs_every_binding() {
    let emu = Emulator::start();
    let w = world(&emu, "all");
    let p = expression(&emu, "is-app", "return request.obj.slug == 'app'");
    bind(&emu, &w, json!({"policy": p}));
    bind(&emu, &w, json!({"group": w.parent["pk"], "order": 1}));
    assert!(passing(&emu, w.alice));
    assert!(!passing(&emu, w.bob));
}

#[test]
fn expression_policies_run_in_authentiks_context() {
    let emu = Emulator::start();
    let w = world(&emu, "any");
    let host = expression(
        &emu,
        "host",
        "return request.obj.get_provider().external_host == 'https://app.example.com' and request.user.email.endswith('@example.com') and ak_is_group_member(request.user, name='admins')",
    );
    bind(&emu, &w, json!({"policy": host}));
    assert!(passing(&emu, w.alice));
    assert!(!passing(&emu, w.bob));
    // The API request is the policy's http_request: a header-reading policy
    // believes whoever asks.
    let emu = Emulator::start();
    let w = world(&emu, "any");
    let header = expression(
        &emu,
        "header",
        "ak_message('saw ' + str(request.http_request.headers.get('X-Forwarded-Host')))\nreturn request.http_request.headers.get('X-Forwarded-Host') == 'app.example.com'",
    );
    bind(&emu, &w, json!({"policy": header}));
    let (_, r) = check(
        &emu,
        "app",
        &format!("?for_user={}", w.bob),
        &[("X-Forwarded-Host", "app.example.com")],
    );
    assert_eq!(r["passing"], json!(true));
    assert_eq!(r["messages"], json!(["saw app.example.com"]));
    assert!(!passing(&emu, w.bob));
    // An error fails the policy, with the error as message.
    let emu = Emulator::start();
    let w = world(&emu, "any");
    let broken = expression(&emu, "broken", "return request.obj.nope");
    bind(&emu, &w, json!({"policy": broken}));
    let (_, r) = check(&emu, "app", &format!("?for_user={}", w.alice), &[]);
    assert_eq!(r["passing"], json!(false));
    assert!(r["messages"][0].as_str().unwrap().contains("nope"), "{r}");
}
