//! End to end: real terraform applies a stack (one `fwdauth_protected_host`
//! per host of the decision table, the restriction guarding all of them),
//! the table's hostile accounts then arrive (new accounts answering to
//! Viktor's e-mail address, emo renamed and his username taken), and the
//! emulator is asked who gets in, the way an admin asks Authentik
//! (`GET /api/v3/core/applications/<slug>/check_access/?for_user=<pk>`, with
//! an `X-Forwarded-Host` naming an allowed host on the request). Its answers
//! must match the table and what the policy harness decides for the policy
//! text stored in Authentik, for both `default_allow` values; and the next
//! plan must fail, naming the ambiguous and the taken-over entries.

mod common;

mod access_cases;

use common::SOURCE;
use std::collections::BTreeMap;

use access_cases::{
    APPS, Arrival, DECISIONS, RULES, USERS, app_json, authorize_request, user_json,
};
use authentik_emulator::access::evaluate_expressions;
use authentik_emulator::{DEFAULT_TOKEN, Emulator};
use authentik_forward_auth::guard::outpost_host;
use serde_json::{Value, json};
use tfplugin::testing::Harness;

/// Seeds groups and the users that exist before the apply; returns user
/// key → pk.
fn seed(emu: &Emulator) -> BTreeMap<&'static str, i64> {
    emu.with(|i| {
        for g in ["Home Server Admins", "kubernetes-admins", "lab"] {
            i.store.insert_unchecked("core/groups", json!({"name": g}));
        }
    });
    let mut pks = BTreeMap::new();
    for u in USERS.iter().filter(|u| u.arrives == Arrival::Before) {
        let existing = emu.with(|i| i.store.get_by("core/users", "username", u.username));
        let pk = match existing {
            Some(existing) => existing["pk"].as_i64().unwrap(),
            None => create_user(emu, u),
        };
        pks.insert(u.key, pk);
    }
    pks
}

fn create_user(emu: &Emulator, u: &access_cases::User) -> i64 {
    emu.with(|i| {
        let member_of: Vec<Value> = u
            .groups
            .iter()
            .map(|g| i.store.get_by("core/groups", "name", g).unwrap()["pk"].clone())
            .collect();
        i.store.insert_unchecked(
            "core/users",
            json!({"username": u.username, "name": u.key, "email": u.email, "groups": member_of}),
        )["pk"]
            .as_i64()
            .unwrap()
    })
}

fn rename_user(emu: &Emulator, pk: i64, username: &str) {
    emu.with(|i| {
        i.store.mutate("core/users", &pk.to_string(), |u| {
            u.insert("username".into(), json!(username));
        })
    });
}

/// The hostile accounts arrive after the apply: new ones are created, the
/// renamed user's account is renamed (same pk). Adds their pks to `pks`.
fn arrive(emu: &Emulator, pks: &mut BTreeMap<&'static str, i64>) {
    for u in USERS {
        if let Arrival::RenameOf(old) = u.arrives {
            rename_user(emu, pks[old], u.username);
            pks.insert(u.key, pks[old]);
        }
    }
    // After the renames, so a newcomer can take a freed username.
    for u in USERS.iter().filter(|u| u.arrives == Arrival::After) {
        pks.insert(u.key, create_user(emu, u));
    }
}

/// The admin removes the hostile accounts (through the API) and the renamed
/// user takes his name back.
fn leave(emu: &Emulator, pks: &mut BTreeMap<&'static str, i64>) {
    for u in USERS {
        match u.arrives {
            Arrival::Before => {}
            Arrival::After => {
                let resp = reqwest::blocking::Client::new()
                    .delete(format!("{}/api/v3/core/users/{}/", emu.url(), pks[u.key]))
                    .bearer_auth(DEFAULT_TOKEN)
                    .send()
                    .unwrap();
                assert_eq!(resp.status().as_u16(), 204, "delete {}", u.key);
                pks.remove(u.key);
            }
            Arrival::RenameOf(old) => {
                rename_user(emu, pks[old], access_cases::user(old).username);
                pks.remove(u.key);
            }
        }
    }
}

/// Whether the outpost can route a browser's request to the table's host.
/// The others (mixed case, user info, look-alikes, a newline) are refused by
/// the restriction; they are made out of band to ask what the policy does
/// there anyway. (Terraform would also NFC-normalise the Kelvin sign to an
/// ASCII `K`.)
fn routable(a: &access_cases::App) -> bool {
    outpost_host(a.external_host).is_some()
}

/// Makes the table's unroutable hosts as an admin could in Authentik's UI,
/// each bound to the restriction's policy.
fn bind_unroutable(emu: &Emulator, h: &Harness) {
    let policy = h.resource_values("fwdauth_domain_restriction.admin")["id"].clone();
    emu.with(|i| {
        for a in APPS.iter().filter(|a| !routable(a)) {
            let prov = i.store.insert_unchecked(
                "providers/proxy",
                json!({"name": a.slug, "external_host": a.external_host, "mode": "forward_single"}),
            );
            let app = i.store.insert_unchecked(
                "core/applications",
                json!({"name": a.slug, "slug": a.slug, "provider": prov["pk"]}),
            );
            i.store.insert_unchecked(
                "policies/bindings",
                json!({"policy": policy, "target": app["pk"], "order": 0}),
            );
        }
    });
}

fn stack(default_allow: bool) -> String {
    let mut hcl = format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

resource "fwdauth_protected_host" "domain" {{
  slug          = "domain"
  name          = "domain wide"
  external_host = "https://auth.example.com"
  mode          = "forward_domain"
  cookie_domain = "example.com"
}}
"#
    );
    for a in APPS.iter().filter(|a| routable(a)) {
        hcl.push_str(&format!(
            "\nresource \"fwdauth_protected_host\" {slug:?} {{\n  slug          = {slug:?}\n  name          = {slug:?}\n  external_host = {host}\n}}\n",
            slug = a.slug,
            host = serde_json::to_string(a.external_host).unwrap(),
        ));
    }
    let apps: Vec<String> = APPS
        .iter()
        .filter(|a| routable(a))
        .map(|a| format!("fwdauth_protected_host.{}.slug", a.slug))
        .collect();
    let rules: Vec<String> = RULES
        .iter()
        .map(|(host, users, groups)| {
            format!(
                "    {{ host = {host:?}, users = {}, groups = {} }},",
                serde_json::to_string(users).unwrap(),
                serde_json::to_string(groups).unwrap()
            )
        })
        .collect();
    hcl.push_str(&format!(
        r#"
resource "fwdauth_domain_restriction" "admin" {{
  name          = "admin-services-restriction"
  default_allow = {default_allow}
  applications  = [{}]
  rules = [
{}
  ]
}}
"#,
        apps.join(", "),
        rules.join("\n")
    ));
    hcl
}

/// Terraform's output on one line (it wraps long diagnostics).
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_access(emu: &Emulator, slug: &str, user_pk: i64, claim: Option<&str>) -> Value {
    let mut req = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v3/core/applications/{slug}/check_access/?for_user={user_pk}",
            emu.url()
        ))
        .bearer_auth(DEFAULT_TOKEN);
    if let Some(h) = claim {
        req = req
            .header("X-Forwarded-Host", h)
            .header("X-Original-URL", format!("https://{h}/"));
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status().as_u16(), 200, "check_access {slug}");
    resp.json().unwrap()
}

/// What the harness decides for each table row, for the policy text and the
/// external hosts Authentik (the emulator) holds after the apply.
fn harness_decisions(emu: &Emulator, pks: &BTreeMap<&str, i64>) -> Vec<bool> {
    let cases: Vec<Value> = emu.with(|i| {
        let policy = i
            .store
            .all("policies/expression")
            .pop()
            .expect("one policy");
        DECISIONS
            .iter()
            .map(|(slug, key, _, _)| {
                let app = i.store.get("core/applications", slug).unwrap();
                let prov = i
                    .store
                    .get("providers/proxy", &app["provider"].to_string())
                    .unwrap();
                json!({"name": policy["name"], "expression": policy["expression"],
                       "user": user_json(access_cases::user(key), pks[key]),
                       "obj": app_json(slug, prov["external_host"].as_str().unwrap(), app["pk"].as_str().unwrap()),
                       "http_request": authorize_request(None), "context": {}})
            })
            .collect()
    });
    evaluate_expressions(&cases)
        .unwrap()
        .into_iter()
        .map(|r| r.passing)
        .collect()
}

#[test]
fn the_emulator_admits_exactly_whom_the_rules_name() {
    let emu = Emulator::start();
    let pks = seed(&emu);
    let h = common::harness(&emu);
    for default_allow in [false, true] {
        h.config(&stack(default_allow));
        let out = h.apply();
        // A guarded host no rule matches is reported when that denies all.
        let text = out.combined();
        assert_eq!(
            text.contains("Application \"other\" denies everyone"),
            !default_allow,
            "{text}"
        );
        h.assert_plan_empty();
        if !default_allow {
            bind_unroutable(&emu, &h);
        }
        let mut pks = pks.clone();
        arrive(&emu, &mut pks);
        let harness = harness_decisions(&emu, &pks);
        for ((slug, key, deny_default, allow_default), from_harness) in
            DECISIONS.iter().zip(harness)
        {
            let want = if default_allow {
                *allow_default
            } else {
                *deny_default
            };
            let what = access_cases::app(slug).what;
            assert_eq!(
                from_harness, want,
                "harness: {what} for {key}, default_allow = {default_allow}"
            );
            for claim in [
                None,
                Some("chrome.example.com"),
                Some("grafana.example.com"),
            ] {
                let r = check_access(&emu, slug, pks[key], claim);
                assert_eq!(
                    r["passing"],
                    json!(want),
                    "emulator: {what} for {key}, default_allow = {default_allow}, X-Forwarded-Host {claim:?}: {r}"
                );
                assert_eq!(r["messages"], json!([]), "{r}");
                assert_eq!(r["log_messages"], json!([]), "{r}");
            }
        }
        // The next plan notices: the e-mail entry answers to four accounts,
        // emo's old username to another live account. Nothing changes in
        // Authentik until someone decides.
        let plan = h.run(&["plan", "-no-color"]);
        assert!(!plan.success(), "{}", plan.combined());
        let text = flat(&plan.combined());
        for want in [
            "User \"vbarzin@gmail.com\" is ambiguous",
            "rules[0].users lists \"vbarzin@gmail.com\", and 4 Authentik accounts answer to it",
            &format!(
                "pk {} (username \"vbarzin@gmail.com\"",
                pks["email-as-username"]
            ),
            &format!("pk {} (username \"mallory\"", pks["same-email"]),
            "User \"emo\" now names another account",
            &format!("now pk {} (username \"emo-old\"", pks["emo"]),
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        leave(&emu, &mut pks);
    }
    // The domain-level application has no binding: every user passes there
    // (its own bindings would decide, once per login for the whole domain).
    assert_eq!(
        check_access(&emu, "domain", pks["blank"], None)["passing"],
        json!(true)
    );
    assert!(h.destroy().success());
}
