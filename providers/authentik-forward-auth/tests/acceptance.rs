//! Acceptance tests: the real `terraform` binary drives the in-process
//! provider (SDK harness, reattach mode) against the Authentik API emulator
//! (`testdata/authentik-emulator`, started here on loopback). The emulator
//! rejects bodies with types or values Authentik's serializers refuse; a
//! field outside the request schemas it ignores, and a value the
//! serializer converts (white space stripped, text read as a number) it
//! converts, as Authentik does, and records both, so the lifecycle test
//! asserts our bodies carry none.

mod common;

use authentik_emulator::{DEFAULT_TOKEN, EMBEDDED_OUTPOST, Emulator, Fault, READONLY_TOKEN};
use authentik_forward_auth::FwdAuthProvider;
use common::{SOURCE, harness};
use serde_json::{Value as Json, json};
use tfplugin::testing::Harness;

fn harness_with_token(emu: &Emulator, token: &str) -> Harness {
    let provider = FwdAuthProvider::with_env([
        ("AUTHENTIK_URL", emu.url()),
        ("AUTHENTIK_TOKEN", token.to_string()),
    ]);
    Harness::new(SOURCE, provider)
}

fn config(body: &str) -> String {
    common::config("retries = 2", body)
}

fn seed_groups_and_users(emu: &Emulator) {
    emu.with(|i| {
        for g in ["ops", "devs", "kubernetes-admins"] {
            i.store.insert_unchecked("core/groups", json!({"name": g}));
        }
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "vbarzin", "name": "Viktor", "email": "vbarzin@gmail.com"}),
        );
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "emo", "name": "Emo", "email": "emil@example.test"}),
        );
    });
}

fn outpost_members(emu: &Emulator) -> Vec<i64> {
    emu.with(|i| {
        let op = i
            .store
            .all("outposts/instances")
            .into_iter()
            .find(|o| o["name"] == EMBEDDED_OUTPOST)
            .unwrap();
        op["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect()
    })
}

fn host_hcl(name: &str, mode: &str, groups: &str) -> String {
    let cookie = if mode == "forward_domain" {
        "cookie_domain = \"example.com\""
    } else {
        ""
    };
    format!(
        r#"
resource "fwdauth_protected_host" "{name}" {{
  slug            = "{name}"
  name            = "{name} app"
  external_host   = "https://{name}.example.com"
  mode            = "{mode}"
  {cookie}
  skip_path_regex = "^/api/public/.*"
  allowed_groups  = {groups}
}}
"#
    )
}

fn provider_pk(h: &Harness, addr: &str) -> i64 {
    h.resource_values(addr)["provider_pk"]
        .as_i64()
        .expect("provider_pk")
}

#[test]
fn lifecycle_create_replan_update_import_destroy() {
    let emu = Emulator::start();
    seed_groups_and_users(&emu);
    let h = harness(&emu);
    h.config(&config(&host_hcl(
        "grafana",
        "forward_single",
        r#"["ops"]"#,
    )));
    h.apply();
    let pk = provider_pk(&h, "fwdauth_protected_host.grafana");
    assert_eq!(outpost_members(&emu), vec![pk]);
    let vals = h.resource_values("fwdauth_protected_host.grafana");
    assert_eq!(
        vals["forward_auth_address"],
        format!("{}/outpost.goauthentik.io/auth/traefik", emu.url())
    );
    assert!(
        vals["auth_response_headers"]
            .as_array()
            .unwrap()
            .contains(&json!("X-authentik-username"))
    );
    assert_eq!(vals["outpost"], EMBEDDED_OUTPOST);
    h.assert_plan_empty();

    // Update: mode change and groups change, in place.
    h.config(&config(&host_hcl(
        "grafana",
        "forward_domain",
        r#"["devs", "kubernetes-admins"]"#,
    )));
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
    assert!(
        plan.stdout.contains("~ mode") && plan.stdout.contains("forward_domain"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    h.apply();
    h.assert_plan_empty();
    assert_eq!(
        provider_pk(&h, "fwdauth_protected_host.grafana"),
        pk,
        "updated in place"
    );
    emu.with(|i| {
        let p = i.store.get("providers/proxy", &pk.to_string()).unwrap();
        assert_eq!(p["mode"], "forward_domain");
        assert_eq!(p["cookie_domain"], "example.com");
        let app = i.store.get("core/applications", "grafana").unwrap();
        let groups: Vec<String> = i
            .store
            .all("policies/bindings")
            .iter()
            .filter(|b| b["target"] == app["pk"])
            .map(|b| {
                i.store
                    .get("core/groups", b["group"].as_str().unwrap())
                    .unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            groups,
            vec!["devs".to_string(), "kubernetes-admins".to_string()]
        );
    });

    // Import by slug adopts the same objects.
    let out = h.run(&["state", "rm", "fwdauth_protected_host.grafana"]);
    assert!(out.success(), "{}", out.combined());
    let out = h.import("fwdauth_protected_host.grafana", "grafana");
    assert!(out.success(), "{}", out.combined());
    h.assert_plan_empty();
    assert_eq!(provider_pk(&h, "fwdauth_protected_host.grafana"), pk);

    let out = h.destroy();
    assert!(out.success(), "{}", out.combined());
    assert!(outpost_members(&emu).is_empty());
    emu.with(|i| {
        assert!(i.store.all("providers/proxy").is_empty());
        assert!(i.store.all("core/applications").is_empty());
        assert!(i.store.all("policies/bindings").is_empty());
        // Every body fitted the request schemas (Authentik would have
        // dropped any other field silently).
        assert!(
            i.store.ignored_fields.is_empty(),
            "fields Authentik ignores: {:?}",
            i.store.ignored_fields
        );
        // ... and every value is stored as sent (nothing stripped or
        // converted, which would read back as drift).
        assert!(
            i.store.coerced_fields.is_empty(),
            "values Authentik changes: {:?}",
            i.store.coerced_fields
        );
    });
}

/// Objects made the way the goauthentik provider makes them (four separate
/// objects) are adopted by import without being recreated.
#[test]
fn import_adopts_goauthentik_objects() {
    let emu = Emulator::start();
    seed_groups_and_users(&emu);
    let (prov_pk, app_uuid) = emu.with(|i| {
        let flow = i
            .store
            .get(
                "flows/instances",
                "default-provider-authorization-implicit-consent",
            )
            .unwrap()["pk"]
            .clone();
        let inv = i
            .store
            .get("flows/instances", "default-provider-invalidation-flow")
            .unwrap()["pk"]
            .clone();
        let p = i.store.insert_unchecked(
            "providers/proxy",
            json!({"name": "wiki app", "authorization_flow": flow, "invalidation_flow": inv,
                   "external_host": "https://wiki.example.com", "mode": "forward_single"}),
        );
        let a = i.store.insert_unchecked(
            "core/applications",
            json!({"name": "wiki app", "slug": "wiki", "provider": p["pk"]}),
        );
        let g = i.store.get_by("core/groups", "name", "ops").unwrap();
        i.store.insert_unchecked(
            "policies/bindings",
            json!({"group": g["pk"], "target": a["pk"], "order": 1}),
        );
        let op = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap();
        i.store
            .mutate("outposts/instances", op["pk"].as_str().unwrap(), |o| {
                o["providers"] = json!([p["pk"]]);
            });
        (p["pk"].as_i64().unwrap(), a["pk"].clone())
    });
    let h = harness(&emu);
    h.config(&config(
        r#"
resource "fwdauth_protected_host" "wiki" {
  slug           = "wiki"
  name           = "wiki app"
  external_host  = "https://wiki.example.com"
  allowed_groups = ["ops"]
}
"#,
    ));
    let out = h.import("fwdauth_protected_host.wiki", "wiki");
    assert!(out.success(), "{}", out.combined());
    h.assert_plan_empty();
    let vals = h.resource_values("fwdauth_protected_host.wiki");
    assert_eq!(vals["provider_pk"].as_i64(), Some(prov_pk));
    assert_eq!(vals["application_uuid"], app_uuid);
    h.config(&config(
        r#"
resource "fwdauth_protected_host" "nope" {
  slug          = "nope"
  name          = "nope"
  external_host = "https://nope.example.com"
}
"#,
    ));
    let out = h.import("fwdauth_protected_host.nope", "no-such-slug");
    assert!(!out.success());
    assert!(
        out.combined()
            .contains("No application with slug \"no-such-slug\""),
        "{}",
        out.combined()
    );
}

#[test]
fn two_stacks_attach_to_the_same_outpost_concurrently() {
    let emu = Emulator::start();
    let a = harness(&emu);
    let b = harness(&emu);
    let hosts = |prefix: &str| {
        (0..4)
            .map(|i| host_hcl(&format!("{prefix}{i}"), "forward_single", "null"))
            .collect::<String>()
    };
    a.config(&config(&hosts("a")));
    b.config(&config(&hosts("b")));
    let args = [
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=4",
    ];
    let ca = a.spawn(&args);
    let cb = b.spawn(&args);
    for (name, child) in [("a", ca), ("b", cb)] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "stack {name} apply failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut members = outpost_members(&emu);
    members.sort();
    let mut want: Vec<i64> = (0..4)
        .flat_map(|i| {
            [
                provider_pk(&a, &format!("fwdauth_protected_host.a{i}")),
                provider_pk(&b, &format!("fwdauth_protected_host.b{i}")),
            ]
        })
        .collect();
    want.sort();
    assert_eq!(members, want, "every provider of both stacks is attached");
    a.assert_plan_empty();
    b.assert_plan_empty();
    // Destroying one stack leaves the other's entries alone.
    assert!(a.destroy().success());
    let mut left = outpost_members(&emu);
    left.sort();
    let mut want_b: Vec<i64> = (0..4)
        .map(|i| provider_pk(&b, &format!("fwdauth_protected_host.b{i}")))
        .collect();
    want_b.sort();
    assert_eq!(left, want_b);
}

#[test]
fn drift_in_our_objects_is_repaired_and_other_entries_left_alone() {
    let emu = Emulator::start();
    seed_groups_and_users(&emu);
    let h = harness(&emu);
    h.config(&config(&host_hcl(
        "grafana",
        "forward_single",
        r#"["ops"]"#,
    )));
    h.apply();
    let pk = provider_pk(&h, "fwdauth_protected_host.grafana");
    // Someone else's provider on the same outpost, and drift in ours.
    let foreign = emu.with(|i| {
        let flow = i.store.get("flows/instances", "default-provider-invalidation-flow").unwrap()["pk"].clone();
        let p = i.store.insert_unchecked(
            "providers/proxy",
            json!({"name": "other stack", "authorization_flow": flow, "invalidation_flow": flow, "external_host": "https://o.example.com"}),
        );
        let op = i.store.get_by("outposts/instances", "name", EMBEDDED_OUTPOST).unwrap();
        i.store.mutate("outposts/instances", op["pk"].as_str().unwrap(), |o| {
            o["providers"] = json!([p["pk"]]);
        });
        i.store.mutate("providers/proxy", &pk.to_string(), |p| {
            p["skip_path_regex"] = json!(".*");
            p["mode"] = json!("forward_domain");
        });
        let app = i.store.get("core/applications", "grafana").unwrap();
        let bindings: Vec<String> = i
            .store
            .all("policies/bindings")
            .iter()
            .filter(|b| b["target"] == app["pk"])
            .map(|b| b["pk"].as_str().unwrap().to_string())
            .collect();
        i.store.objects.get_mut("policies/bindings").unwrap().retain(|b| !bindings.contains(&b["pk"].as_str().unwrap().to_string()));
        p["pk"].as_i64().unwrap()
    });
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(
        plan.status,
        2,
        "drift must show as changes:\n{}",
        plan.combined()
    );
    for attr in ["skip_path_regex", "mode", "outpost", "allowed_groups"] {
        assert!(
            plan.stdout.contains(&format!("~ {attr}"))
                || plan.stdout.contains(&format!("+ {attr}")),
            "{attr} drift not shown:\n{}",
            plan.stdout
        );
    }
    h.apply();
    h.assert_plan_empty();
    let mut members = outpost_members(&emu);
    members.sort();
    assert_eq!(
        members,
        vec![pk.min(foreign), pk.max(foreign)],
        "ours re-attached, theirs kept"
    );
    emu.with(|i| {
        let p = i.store.get("providers/proxy", &pk.to_string()).unwrap();
        assert_eq!(p["skip_path_regex"], "^/api/public/.*");
        assert_eq!(p["mode"], "forward_single");
    });
    // Drift in another stack's entry only: nothing for us to do.
    emu.with(|i| {
        let op = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap();
        i.store
            .mutate("outposts/instances", op["pk"].as_str().unwrap(), |o| {
                o["providers"] = json!([pk]);
            });
    });
    h.assert_plan_empty();
    // Deleting the application outside Terraform: the plan recreates it.
    emu.with(|i| {
        i.store
            .objects
            .get_mut("core/applications")
            .unwrap()
            .clear();
    });
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
}

#[test]
fn transient_faults_are_retried_and_permanent_ones_reported() {
    let emu = Emulator::start();
    let h = harness(&emu);
    emu.inject(Fault {
        method: Some("PATCH".into()),
        path_contains: "/outposts/".into(),
        status: 503,
        count: 2,
    });
    emu.inject(Fault {
        method: Some("GET".into()),
        path_contains: "/flows/".into(),
        status: 502,
        count: 1,
    });
    h.config(&config(&host_hcl("grafana", "forward_single", "null")));
    h.apply();
    assert_eq!(outpost_members(&emu).len(), 1);
    emu.inject(Fault {
        method: Some("PATCH".into()),
        path_contains: "/providers/proxy/".into(),
        status: 500,
        count: 10,
    });
    h.config(&config(&host_hcl("grafana", "forward_domain", "null")));
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success());
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("Cannot update proxy provider"), "{text}");
    assert!(text.contains("HTTP 500 after 3 attempt(s)"), "{text}");
}

#[test]
fn bad_token_and_missing_flow_name_the_object() {
    let emu = Emulator::start();
    let bad = harness_with_token(&emu, "wrong-token-value");
    bad.config(&config(&host_hcl("grafana", "forward_single", "null")));
    let out = bad.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = out.combined();
    assert!(
        text.contains("rejected the API token") && text.contains("HTTP 401"),
        "{text}"
    );
    assert!(
        text.contains("flow list") || text.contains("grafana"),
        "names the object: {text}"
    );
    assert!(!text.contains("wrong-token-value"), "token leaked: {text}");

    let ro = harness_with_token(&emu, READONLY_TOKEN);
    ro.config(&config(&host_hcl("grafana", "forward_single", "null")));
    let out = ro.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success());
    let text = out.combined();
    assert!(
        text.contains("proxy provider \"grafana app\"") && text.contains("HTTP 403"),
        "{text}"
    );

    let h = harness(&emu);
    h.config(&config(
        r#"
resource "fwdauth_protected_host" "x" {
  slug               = "x"
  name               = "x"
  external_host      = "https://x.example.com"
  authorization_flow = "no-such-flow"
  allowed_groups     = ["nobody-group"]
  allowed_users      = ["ghost@example.com"]
}
"#,
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = out.combined();
    assert!(text.contains("Flow \"no-such-flow\" not found"), "{text}");
    assert!(text.contains("fwdauth_protected_host \"x\""), "{text}");
    assert!(text.contains("Group \"nobody-group\" not found"), "{text}");
    assert!(
        text.contains("User \"ghost@example.com\" not found"),
        "{text}"
    );
    emu.with(|i| {
        assert!(
            i.store.all("providers/proxy").is_empty(),
            "nothing created at plan time"
        )
    });
}

#[test]
fn token_never_reaches_state_plan_or_logs() {
    let emu = Emulator::start();
    seed_groups_and_users(&emu);
    // Token given in the provider block (from a sensitive variable).
    let h = Harness::new(
        SOURCE,
        FwdAuthProvider::with_env([("AUTHENTIK_URL", emu.url())]),
    );
    h.env("TF_VAR_authentik_token", DEFAULT_TOKEN);
    h.config(&format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}
variable "authentik_token" {{
  type      = string
  sensitive = true
}}
provider "fwdauth" {{
  token = var.authentik_token
}}
{}"#,
        host_hcl("grafana", "forward_single", r#"["ops"]"#)
    ));
    let apply = h.apply();
    let plan = h.run(&["plan", "-no-color"]);
    let shown = h.run(&["show", "-json"]);
    for (what, text) in [
        ("state", h.raw_state()),
        ("apply output", apply.combined()),
        ("plan output", plan.combined()),
        ("show -json", shown.stdout),
        ("provider logs", h.provider_logs()),
    ] {
        assert!(
            !text.contains(DEFAULT_TOKEN),
            "the token leaked into the {what}"
        );
    }
}

#[test]
fn domain_restriction_compiles_binds_and_checks_names_at_plan_time() {
    let emu = Emulator::start();
    seed_groups_and_users(&emu);
    let h = harness(&emu);
    let hcl = |users: &str| {
        config(&format!(
            r#"
resource "fwdauth_protected_host" "domain" {{
  slug          = "domain"
  name          = "domain wide"
  external_host = "https://auth.example.com"
  mode          = "forward_domain"
  cookie_domain = "example.com"
}}

resource "fwdauth_protected_host" "chrome" {{
  slug          = "chrome"
  name          = "chrome"
  external_host = "https://chrome.example.com"
}}

resource "fwdauth_protected_host" "k8s" {{
  slug          = "k8s"
  name          = "k8s"
  external_host = "https://k8s.example.com"
}}

resource "fwdauth_domain_restriction" "admin" {{
  name         = "admin-services-restriction"
  applications = [fwdauth_protected_host.chrome.slug, fwdauth_protected_host.k8s.slug]
  rules = [
    {{ host = "k8s.example.com", groups = ["kubernetes-admins"] }},
    {{ host = "chrome.*", users = [{users}] }},
  ]
}}
"#
        ))
    };
    h.config(&hcl(r#""vbarzin@gmail.com", "akadmin""#));
    h.apply();
    h.assert_plan_empty();
    let vals = h.resource_values("fwdauth_domain_restriction.admin");
    let expr = vals["expression"].as_str().unwrap().to_string();
    assert!(
        expr.contains(r#"("k8s.example.com", set(), {"kubernetes-admins"}),"#),
        "{expr}"
    );
    // Users by primary key, the names they were listed by in comments.
    let pk =
        |u: &str| emu.with(|i| i.store.get_by("core/users", "username", u).unwrap()["pk"].clone());
    assert!(
        expr.contains(&format!(
            "    (\"chrome.*\", {{\n        {},  # \"akadmin\"\n        {},  # \"vbarzin@gmail.com\"\n    }}, set()),",
            pk("akadmin"),
            pk("vbarzin")
        )),
        "{expr}"
    );
    assert!(expr.contains("request.obj") && !expr.contains("X-Forwarded-Host"));
    assert_eq!(vals["default_allow"], json!(false));
    let bindings = vals["bindings"].as_object().unwrap().clone();
    assert_eq!(
        bindings.keys().collect::<Vec<_>>(),
        vec!["chrome", "k8s"],
        "{vals}"
    );
    emu.with(|i| {
        let p = i
            .store
            .get("policies/expression", vals["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(p["expression"].as_str().unwrap(), expr);
        for (slug, b) in &bindings {
            let b = i
                .store
                .get("policies/bindings", b.as_str().unwrap())
                .unwrap();
            assert_eq!(b["policy"], vals["id"]);
            let app = i.store.get("core/applications", slug).unwrap();
            assert_eq!(b["target"], app["pk"]);
        }
        // Nothing on the domain-level application.
        let domain = i.store.get("core/applications", "domain").unwrap();
        assert!(
            i.store
                .all("policies/bindings")
                .iter()
                .all(|b| b["target"] != domain["pk"])
        );
    });

    // A rule change shows readably in the plan.
    h.config(&hcl(r#""vbarzin@gmail.com", "akadmin", "emo""#));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.success(), "{}", plan.combined());
    assert!(plan.stdout.contains(r#"+ "emo""#), "{}", plan.stdout);
    h.apply();
    h.assert_plan_empty();

    // Unknown users and groups fail at plan time.
    h.config(&hcl(r#""nobody@example.com""#));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    assert!(
        out.combined()
            .contains("User \"nobody@example.com\" not found"),
        "{}",
        out.combined()
    );

    // Drift in the policy text is repaired.
    h.config(&hcl(r#""vbarzin@gmail.com", "akadmin", "emo""#));
    emu.with(|i| {
        i.store
            .mutate("policies/expression", vals["id"].as_str().unwrap(), |p| {
                p["expression"] = json!("return True");
            })
    });
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
    h.apply();
    h.assert_plan_empty();

    // A binding deleted outside Terraform is re-created.
    let chrome_binding =
        h.resource_values("fwdauth_domain_restriction.admin")["bindings"]["chrome"]
            .as_str()
            .unwrap()
            .to_string();
    emu.with(|i| {
        i.store
            .objects
            .get_mut("policies/bindings")
            .unwrap()
            .retain(|b| b["pk"] != chrome_binding.as_str())
    });
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
    h.apply();
    h.assert_plan_empty();
    let rebound = h.resource_values("fwdauth_domain_restriction.admin")["bindings"]["chrome"]
        .as_str()
        .unwrap()
        .to_string();
    emu.with(|i| {
        assert_eq!(
            i.store.get("policies/bindings", &rebound).unwrap()["policy"],
            vals["id"]
        )
    });

    assert!(h.destroy().success());
    emu.with(|i| {
        assert!(i.store.all("policies/expression").is_empty());
        assert!(i.store.all("policies/bindings").is_empty());
    });
}

/// A one-shot HTTP server answering every request with `status` + `location`.
fn redirect_server(status: u16, location: &'static str) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let loc = if location.is_empty() {
                String::new()
            } else {
                format!("Location: {location}\r\n")
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\n{loc}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn carveout_check_fails_only_on_redirects_to_authentik() {
    let emu = Emulator::start();
    let h = harness(&emu);
    let public = redirect_server(302, "https://short.example.com/target");
    let walled = redirect_server(
        302,
        "https://app.example.com/outpost.goauthentik.io/start?rd=x",
    );
    let login = redirect_server(302, "https://authentik.example.com/if/flow/login/");
    h.config(&config(&format!(
        r#"
data "fwdauth_carveout_check" "ok" {{
  url    = "{public}/api/public/ping"
  domain = "example.com"
}}
output "status" {{ value = data.fwdauth_carveout_check.ok.status_code }}
check "walled" {{
  data "fwdauth_carveout_check" "bad" {{
    url    = "{walled}/webhook"
    domain = "example.com"
  }}
  assert {{
    condition     = data.fwdauth_carveout_check.bad.public
    error_message = "carve-out walled off"
  }}
}}
check "login" {{
  data "fwdauth_carveout_check" "bad2" {{
    url    = "{login}/"
    domain = "example.com"
  }}
  assert {{
    condition     = data.fwdauth_carveout_check.bad2.public
    error_message = "carve-out walled off"
  }}
}}
"#
    )));
    let out = h.apply();
    let text = out.combined();
    assert!(text.contains("is walled off by Authentik"), "{text}");
    assert!(text.contains("outpost.goauthentik.io/start"), "{text}");
    assert!(
        text.contains("authentik.example.com/if/flow/login"),
        "{text}"
    );
    assert_eq!(
        h.state_json()["values"]["outputs"]["status"]["value"],
        json!(302)
    );
    // Outside a check block the same condition is an error.
    h.config(&config(&format!("data \"fwdauth_carveout_check\" \"bad\" {{\n  url = \"{walled}/x\"\n  domain = \"example.com\"\n}}\n")));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success(), "{}", out.combined());
}

#[test]
fn schema_file_matches_terraform_providers_schema() {
    let emu = Emulator::start();
    let h = harness(&emu);
    h.config(&config(""));
    let actual = h.providers_schema_document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/authentik-forward-auth.json");
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: Json = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .expect("schemas/authentik-forward-auth.json (regenerate with UPDATE_SCHEMAS=1)"),
    )
    .unwrap();
    assert_eq!(
        actual, expected,
        "schemas/authentik-forward-auth.json is out of date: rerun with UPDATE_SCHEMAS=1"
    );
}
