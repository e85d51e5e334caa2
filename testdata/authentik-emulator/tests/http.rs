//! The emulator over HTTP: auth outcomes, pagination, field errors, fault
//! injection and the out-of-process hooks.

use authentik_emulator::{DEFAULT_TOKEN, Emulator, READONLY_TOKEN};
use reqwest::blocking::Client;
use serde_json::{Value, json};

fn call(
    emu: &Emulator,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Client::new().request(method.parse().unwrap(), format!("{}{path}", emu.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

#[test]
fn auth_outcomes() {
    let emu = Emulator::start();
    assert_eq!(call(&emu, "GET", "/api/v3/core/groups/", None, None).0, 401);
    assert_eq!(
        call(&emu, "GET", "/api/v3/core/groups/", Some("nope"), None).0,
        401
    );
    assert_eq!(
        call(
            &emu,
            "GET",
            "/api/v3/core/groups/",
            Some(READONLY_TOKEN),
            None
        )
        .0,
        200
    );
    let (st, body) = call(
        &emu,
        "POST",
        "/api/v3/core/groups/",
        Some(READONLY_TOKEN),
        Some(json!({"name": "x"})),
    );
    assert_eq!(st, 403, "{body}");
    assert_eq!(
        call(
            &emu,
            "POST",
            "/api/v3/core/groups/",
            Some(DEFAULT_TOKEN),
            Some(json!({"name": "x"}))
        )
        .0,
        201
    );
}

#[test]
fn pagination_field_errors_faults_and_hooks() {
    let emu = Emulator::start();
    for i in 0..5 {
        call(
            &emu,
            "POST",
            "/api/v3/core/groups/",
            Some(DEFAULT_TOKEN),
            Some(json!({"name": format!("g{i}")})),
        );
    }
    let (_, page) = call(
        &emu,
        "GET",
        "/api/v3/core/groups/?page=1&page_size=2",
        Some(DEFAULT_TOKEN),
        None,
    );
    assert_eq!(page["pagination"]["count"], 6);
    assert_eq!(page["pagination"]["next"], 2);
    assert_eq!(page["results"].as_array().unwrap().len(), 2);

    let (st, err) = call(
        &emu,
        "POST",
        "/api/v3/providers/proxy/",
        Some(DEFAULT_TOKEN),
        Some(json!({"name": "p", "mode": 3})),
    );
    assert_eq!(st, 400);
    assert_eq!(err["external_host"][0], "This field is required.");
    assert!(
        err["mode"][0]
            .as_str()
            .unwrap()
            .contains("not a valid choice")
    );

    let (_, op) = call(
        &emu,
        "GET",
        "/api/v3/outposts/instances/?name__iexact=authentik%20embedded%20outpost",
        Some(DEFAULT_TOKEN),
        None,
    );
    assert_eq!(
        op["results"][0]["managed"],
        "goauthentik.io/outposts/embedded"
    );

    let c = Client::new();
    c.post(format!("{}/_emulator/faults", emu.url()))
        .json(&json!({"method": "GET", "path_contains": "/core/users/", "status": 503, "count": 1}))
        .send()
        .unwrap();
    assert_eq!(
        call(
            &emu,
            "GET",
            "/api/v3/core/users/",
            Some(DEFAULT_TOKEN),
            None
        )
        .0,
        503
    );
    assert_eq!(
        call(
            &emu,
            "GET",
            "/api/v3/core/users/",
            Some(DEFAULT_TOKEN),
            None
        )
        .0,
        200
    );
    let stats: Value = c
        .get(format!("{}/_emulator/stats", emu.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(stats["requests"].as_u64().unwrap() >= 10);
}
