//! Who gets into an application: Authentik's policy engine over the
//! application's bindings, and `GET /api/v3/core/applications/<slug>/check_access/`.
//!
//! The rules, from goauthentik/authentik:
//! - `authentik/policies/engine.py`: the enabled bindings whose target is the
//!   application, by `order`; none → pass ("objects with no policies attached
//!   will pass"); `policy_engine_mode` `all` → every result passes, `any` → one
//!   does; the messages of all results, in order.
//! - `authentik/policies/models.py`, `PolicyBinding.passes`: a policy binding
//!   runs the policy; a group binding passes when `group.is_member(user)`
//!   (`authentik/core/models.py`: the user's groups and their ancestors contain
//!   it); a user binding passes for that user.
//! - `authentik/policies/process.py`: `negate` inverts the result; an error
//!   while running the policy is a failing result with the error as message.
//! - Expression policies run in `python3` by `expression.py` (next to this
//!   file), which builds the evaluation context as Authentik's evaluator does.
//! - `authentik/core/api/applications.py`, `check_access`: the application by
//!   slug (404 when none); a superuser may name `for_user` (400
//!   `{"for_user": "User not found"}` when no such user, 400
//!   `{"for_user": "for_user must be numerical"}` when not numerical); the engine runs with the API request
//!   itself as `http_request`; the answer is a `PolicyTestResult`
//!   (`authentik/policies/api/exec.py`): `passing`, `messages`,
//!   `log_messages`. Both emulator tokens act as the superuser `akadmin`.

use std::io::Write;
use std::process::{Command, Stdio};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::store::Store;

/// The evaluator `python3` runs (stdin: a JSON list of cases).
pub const EXPRESSION_PY: &str = include_str!("expression.py");

/// One policy result: passing, and the messages the policy left.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct PolicyResult {
    pub passing: bool,
    pub messages: Vec<String>,
}

/// Runs each case (see `expression.py` for its fields) in one `python3`.
pub fn evaluate_expressions(cases: &[Value]) -> Result<Vec<PolicyResult>, String> {
    let mut child = Command::new("python3")
        .args(["-I", "-c", EXPRESSION_PY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    let input = serde_json::to_vec(cases).map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(&input)
        .map_err(|e| format!("writing to python3: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("python3 output: {e}"))
}

/// The user as the evaluator sees it: fields plus the names of every group
/// it is a member of (direct groups and their ancestors).
pub fn user_context(store: &Store, user: &Value) -> Value {
    let names: Vec<Value> = member_groups(store, user)
        .iter()
        .map(|g| g["name"].clone())
        .collect();
    json!({
        "pk": user["pk"],
        "username": user["username"],
        "email": user["email"],
        "name": user["name"],
        "is_active": user["is_active"],
        "attributes": user["attributes"],
        "groups": names,
    })
}

/// The application as `request.obj`, with its proxy provider.
pub fn application_context(store: &Store, app: &Value) -> Value {
    let provider = app["provider"]
        .as_i64()
        .and_then(|pk| store.get("providers/proxy", &pk.to_string()))
        .map(|p| {
            json!({
                "pk": p["pk"],
                "name": p["name"],
                "external_host": p["external_host"],
                "mode": p["mode"],
                "cookie_domain": p["cookie_domain"],
            })
        });
    json!({
        "pk": app["pk"],
        "slug": app["slug"],
        "name": app["name"],
        "meta_launch_url": app["meta_launch_url"],
        "policy_engine_mode": app["policy_engine_mode"],
        "provider": provider,
    })
}

/// Groups `user` is a member of: those listing the user (or listed by it),
/// and their ancestors through `parents` (a group may have several since
/// Authentik 2025.8; `Group.is_member` counts members of descendants).
fn member_groups(store: &Store, user: &Value) -> Vec<Value> {
    let groups = store.all("core/groups");
    let direct = |g: &Value| {
        g["users"]
            .as_array()
            .is_some_and(|u| u.contains(&user["pk"]))
            || user["groups"]
                .as_array()
                .is_some_and(|mine| mine.contains(&g["pk"]))
    };
    let mut out: Vec<Value> = groups.iter().filter(|g| direct(g)).cloned().collect();
    let mut i = 0;
    while i < out.len() {
        let parents: Vec<Value> = out[i]["parents"].as_array().cloned().unwrap_or_default();
        for parent in parents {
            if !out.iter().any(|g| g["pk"] == parent)
                && let Some(p) = groups.iter().find(|g| g["pk"] == parent)
            {
                out.push(p.clone());
            }
        }
        i += 1;
    }
    out
}

/// Evaluates application `app` for `user` as Authentik's policy engine does;
/// `http_request` is what the policies see as `request.http_request`.
pub fn engine_result(
    store: &Store,
    app: &Value,
    user: &Value,
    http_request: Value,
) -> Result<PolicyResult, String> {
    let mut bindings: Vec<Value> = store
        .all("policies/bindings")
        .into_iter()
        .filter(|b| b["target"] == app["pk"] && b["enabled"] != json!(false))
        .collect();
    bindings.sort_by_key(|b| b["order"].as_i64().unwrap_or(0));
    if bindings.is_empty() {
        return Ok(PolicyResult {
            passing: true,
            messages: vec![],
        });
    }
    let user_ctx = user_context(store, user);
    let obj = application_context(store, app);
    // Expression policies, run together in one python3.
    let mut cases = Vec::new();
    for b in &bindings {
        if let Some(pk) = b["policy"].as_str() {
            let p = store
                .get("policies/expression", pk)
                .ok_or_else(|| format!("binding {} names missing policy {pk}", b["pk"]))?;
            cases.push(json!({
                "name": p["name"],
                "expression": p["expression"],
                "user": user_ctx,
                "obj": obj,
                "http_request": http_request,
                "context": {},
            }));
        }
    }
    let mut ran = evaluate_expressions(&cases)?.into_iter();
    let mut results = Vec::new();
    for b in &bindings {
        let mut r = if b["policy"].is_string() {
            ran.next().expect("one result per policy binding")
        } else if let Some(g) = b["group"].as_str() {
            PolicyResult {
                passing: member_groups(store, user)
                    .iter()
                    .any(|m| m["pk"].as_str() == Some(g)),
                messages: vec![],
            }
        } else if let Some(u) = b["user"].as_i64() {
            PolicyResult {
                passing: user["pk"].as_i64() == Some(u),
                messages: vec![],
            }
        } else {
            PolicyResult {
                passing: false,
                messages: vec![],
            }
        };
        if b["negate"] == json!(true) {
            r.passing = !r.passing;
        }
        results.push(r);
    }
    let passing = if app["policy_engine_mode"] == "all" {
        results.iter().all(|r| r.passing)
    } else {
        results.iter().any(|r| r.passing)
    };
    Ok(PolicyResult {
        passing,
        messages: results.into_iter().flat_map(|r| r.messages).collect(),
    })
}

/// The slug when `rest` (the path after `/api/v3/`) is a check_access call.
pub fn check_access_slug(rest: &str) -> Option<&str> {
    let slug = rest
        .trim_end_matches('/')
        .strip_prefix("core/applications/")?
        .strip_suffix("/check_access")?;
    (!slug.is_empty() && !slug.contains('/')).then_some(slug)
}

/// `GET core/applications/<slug>/check_access/?for_user=<pk>`. `headers`
/// are the API request's, which Authentik hands the policies as
/// `request.http_request`.
pub fn check_access(
    store: &Store,
    slug: &str,
    query: &str,
    headers: &[(String, String)],
) -> (StatusCode, Value) {
    let Some(app) = store.get("core/applications", slug) else {
        return (
            StatusCode::NOT_FOUND,
            json!({"detail": "No Application matches the given query."}),
        );
    };
    let for_user = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "for_user")
        .map(|(_, v)| v.to_string());
    let user = match for_user {
        None => store.get_by("core/users", "username", "akadmin"),
        Some(v) => match v.parse::<i64>() {
            Ok(pk) => store.get("core/users", &pk.to_string()),
            Err(_) => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"for_user": "for_user must be numerical"}),
                );
            }
        },
    };
    let Some(user) = user else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"for_user": "User not found"}),
        );
    };
    let http_request = json!({
        "method": "GET",
        "path": format!("/api/v3/core/applications/{slug}/check_access/"),
        "headers": headers
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<serde_json::Map<String, Value>>(),
        "query": {"for_user": user["pk"].to_string()},
    });
    match engine_result(store, &app, &user, http_request) {
        Ok(r) => (
            StatusCode::OK,
            json!({"passing": r.passing, "messages": r.messages, "log_messages": []}),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"detail": format!("policy engine: {e}")}),
        ),
    }
}
