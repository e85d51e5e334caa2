//! What `fwdauth_domain_restriction` refuses, through real terraform against
//! the emulator: binding to domain-level forward auth, rules only a
//! `forward_domain` provider serves or that guard nothing, own bindings that
//! would admit around it; and the upgrade of version-0 state (bound to the
//! domain application) onto the per-host design.

mod common;

use authentik_emulator::{DEFAULT_TOKEN, Emulator};
use common::{SOURCE, harness};
use serde_json::{Value, json};
use tfplugin::testing::Harness;

/// A started emulator with the seed, and the provider against it.
fn seeded() -> (Emulator, Harness) {
    let emu = Emulator::start();
    seed(&emu);
    let h = harness(&emu);
    (emu, h)
}

fn seed(emu: &Emulator) {
    emu.with(|i| {
        let ops = i.store.insert_unchecked("core/groups", json!({"name": "ops"}));
        i.store.insert_unchecked("core/groups", json!({"name": "kubernetes-admins"}));
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "vbarzin", "name": "Viktor", "email": "vbarzin@gmail.com", "groups": [ops["pk"]]}),
        );
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "emo", "name": "Emo", "email": "emil.barzin@gmail.com", "groups": [ops["pk"]]}),
        );
    });
}

const HOSTS: &str = r#"
terraform {
  required_providers {
    fwdauth = { source = "registry.terraform.io/homelab/authentik-forward-auth" }
  }
}

resource "fwdauth_protected_host" "domain" {
  slug          = "domain"
  name          = "domain wide"
  external_host = "https://auth.example.com"
  mode          = "forward_domain"
  cookie_domain = "example.com"
}

resource "fwdauth_protected_host" "chrome" {
  slug          = "chrome"
  name          = "chrome"
  external_host = "https://chrome.example.com"
}
"#;

fn with_restriction(applications: &str, rules: &str) -> String {
    format!(
        r#"{HOSTS}
resource "fwdauth_domain_restriction" "admin" {{
  name         = "admin-services-restriction"
  applications = {applications}
  rules        = {rules}
}}
"#
    )
}

/// Terraform's output on one line (it wraps long diagnostics).
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn policies(emu: &Emulator) -> usize {
    emu.with(|i| i.store.all("policies/expression").len())
}

#[test]
fn domain_level_applications_are_refused_at_plan_and_at_apply() {
    let (emu, h) = seeded();
    let cfg = with_restriction(
        "[fwdauth_protected_host.domain.slug, fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }]"#,
    );
    // Same run: the domain application does not exist at plan time, so the
    // apply refuses before it writes anything of the restriction.
    h.config(&cfg);
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "Application \"domain\" is domain-level forward auth",
        "cannot enforce different application-level authorization rules for each protected application",
        "its own fwdauth_protected_host",
        // The plan said the new host is open until the binding exists.
        "Application \"chrome\" is created in this run",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(policies(&emu), 0);
    // Now that it exists, the plan itself fails.
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    assert!(flat(&out.combined()).contains("is domain-level forward auth"));
}

#[test]
fn rules_must_guard_an_application() {
    let (emu, h) = seeded();
    h.config(HOSTS);
    h.apply();
    // k8s is served only by the domain-level provider.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }, { host = "k8s.example.com", groups = ["kubernetes-admins"] }]"#,
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "Rule for \"k8s.example.com\" guards no application",
        "Only domain-level forward auth serves \"k8s.example.com\": \"domain wide\" (cookie domain \"example.com\")",
        "cannot enforce different application-level authorization rules",
        "Protect the host with its own fwdauth_protected_host",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // A host no provider serves at all: the rule is enforced nowhere.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }, { host = "k8s.example.org", groups = ["kubernetes-admins"] }]"#,
    ));
    let text = flat(&h.run(&["plan", "-no-color"]).combined());
    assert!(text.contains("the rule is enforced nowhere"), "{text}");
    // Values are checked before anything is asked of Authentik.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "Chrome.example.com", users = ["vbarzin@gmail.com"] }, { host = "x.*.example.com", groups = [""] }]"#,
    ));
    let out = h.run(&["validate", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "must be lower case (write \"chrome.example.com\")",
        "\"x.*.example.com\" must be an RFC 1123 host name",
        "rules[1].groups holds an empty string",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert_eq!(policies(&emu), 0);
}

fn check_access(emu: &Emulator, slug: &str, username: &str) -> bool {
    let pk =
        emu.with(|i| i.store.get_by("core/users", "username", username).unwrap()["pk"].clone());
    let r: Value = reqwest::blocking::Client::new()
        .get(format!(
            "{}/api/v3/core/applications/{slug}/check_access/?for_user={pk}",
            emu.url()
        ))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    r["passing"].as_bool().unwrap()
}

#[test]
fn own_bindings_may_narrow_but_not_bypass() {
    let (emu, h) = seeded();
    let cfg = |mode: &str| {
        format!(
            r#"{HOSTS}
resource "fwdauth_protected_host" "k8s" {{
  slug               = "k8s"
  name               = "k8s"
  external_host      = "https://k8s.example.com"
  allowed_groups     = ["ops"]
  policy_engine_mode = "{mode}"
}}

resource "fwdauth_domain_restriction" "admin" {{
  name         = "admin-services-restriction"
  applications = [fwdauth_protected_host.chrome.slug, fwdauth_protected_host.k8s.slug]
  rules = [
    {{ host = "chrome.*", users = ["vbarzin@gmail.com"] }},
    {{ host = "k8s.example.com", users = ["vbarzin@gmail.com"] }},
  ]
}}
"#
        )
    };
    // policy_engine_mode = "any": ops (emo included) would get in around the rule.
    h.config(&cfg("any"));
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    assert!(
        text.contains("Application \"k8s\" admits around the restriction"),
        "{text}"
    );
    assert!(text.contains("policy_engine_mode = \"all\""), "{text}");
    assert_eq!(policies(&emu), 0);
    // "all": a user must be in ops and named by the rule.
    h.config(&cfg("all"));
    h.apply();
    h.assert_plan_empty();
    assert!(check_access(&emu, "k8s", "vbarzin"));
    assert!(!check_access(&emu, "k8s", "emo"));
    assert!(!check_access(&emu, "k8s", "akadmin"));
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "emo"));
    // Someone turns the host back to "any" outside this stack: emo gets in
    // around the rule until the next apply, which repairs the host (and the
    // restriction re-checks it and keeps its binding).
    emu.with(|i| {
        i.store.mutate("core/applications", "k8s", |a| {
            a.insert("policy_engine_mode".into(), json!("any"));
        })
    });
    assert!(
        check_access(&emu, "k8s", "emo"),
        "ops gets in around the rule"
    );
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
    assert!(flat(&plan.combined()).contains("admits around the restriction"));
    h.apply();
    h.assert_plan_empty();
    assert!(!check_access(&emu, "k8s", "emo"));
    emu.with(|i| {
        let k8s = i.store.get("core/applications", "k8s").unwrap();
        let ours = i
            .store
            .all("policies/bindings")
            .into_iter()
            .filter(|b| b["target"] == k8s["pk"] && b["policy"].is_string())
            .count();
        assert_eq!(ours, 1);
    });
    // The stack itself asking for "any" again fails at the host's plan.
    h.config(&cfg("any"));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    assert!(
        text.contains("fwdauth_protected_host \"k8s\" would admit around its policy"),
        "{text}"
    );
    assert!(!check_access(&emu, "k8s", "emo"));
}

/// State written by version 0 (policy bound to the forward_domain
/// application, `default_allow` stored as true) is upgraded; the first apply
/// moves the binding onto the listed applications.
#[test]
fn version_0_state_moves_onto_per_host_bindings() {
    let (emu, h) = seeded();
    h.config(HOSTS);
    h.apply();
    // What version 0 made: the policy, bound to the domain application.
    let (policy_pk, binding_pk, domain_pk) = emu.with(|i| {
        let p = i.store.insert_unchecked(
            "policies/expression",
            json!({"name": "admin-services-restriction", "expression": "return True"}),
        );
        let domain = i.store.get("core/applications", "domain").unwrap();
        let b = i.store.insert_unchecked(
            "policies/bindings",
            json!({"policy": p["pk"], "target": domain["pk"], "order": 0}),
        );
        (p["pk"].clone(), b["pk"].clone(), domain["pk"].clone())
    });
    let mut state: Value = serde_json::from_str(&h.raw_state()).unwrap();
    state["serial"] = json!(state["serial"].as_i64().unwrap() + 1);
    state["resources"].as_array_mut().unwrap().push(json!({
        "mode": "managed", "type": "fwdauth_domain_restriction", "name": "admin",
        "provider": format!("provider[\"{SOURCE}\"]"),
        "instances": [{"schema_version": 0, "sensitive_attributes": [], "attributes": {
            "id": policy_pk, "name": "admin-services-restriction",
            "rules": [{"host": "chrome.*", "users": ["vbarzin@gmail.com"], "groups": null}],
            "default_allow": true, "bind_to": "domain", "binding_order": 0,
            "binding_id": binding_pk, "expression": "return True"}}],
    }));
    std::fs::write(
        h.work_dir().join("terraform.tfstate"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }]"#,
    ));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.success(), "{}", plan.combined());
    let text = flat(&plan.stdout);
    assert!(text.contains("~ default_allow = true -> false"), "{text}");
    assert!(
        text.contains("- \"domain\"") && text.contains("+ \"chrome\""),
        "{text}"
    );
    h.apply();
    h.assert_plan_empty();
    emu.with(|i| {
        let bindings = i.store.all("policies/bindings");
        assert!(
            bindings.iter().all(|b| b["target"] != domain_pk),
            "{bindings:?}"
        );
        let chrome = i.store.get("core/applications", "chrome").unwrap();
        assert!(
            bindings
                .iter()
                .any(|b| b["target"] == chrome["pk"] && b["policy"] == policy_pk)
        );
        let p = i
            .store
            .get("policies/expression", policy_pk.as_str().unwrap())
            .unwrap();
        assert!(p["expression"].as_str().unwrap().contains("request.obj"));
    });
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "emo"));
}

/// The outpost routes a request to a single-host application only when the
/// request's host equals the external_host's host[:port] exactly; a guarded
/// host written otherwise would never be selected, so it is refused.
#[test]
fn hosts_the_outpost_cannot_route_to_are_refused() {
    let (_emu, h) = seeded();
    let hosts = format!(
        r#"{HOSTS}
resource "fwdauth_protected_host" "caps" {{
  slug          = "caps"
  name          = "caps"
  external_host = "https://Grafana.example.com:443"
}}
"#
    );
    h.config(&hosts);
    h.apply();
    h.config(&format!(
        r#"{hosts}
resource "fwdauth_domain_restriction" "admin" {{
  name         = "admin-services-restriction"
  applications = [fwdauth_protected_host.chrome.slug, fwdauth_protected_host.caps.slug]
  rules        = [{{ host = "chrome.*", users = ["vbarzin@gmail.com"] }}]
}}
"#
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "Application \"caps\" has external_host \"https://Grafana.example.com:443\"",
        "lookupApp",
        "Write external_host as \"https://grafana.example.com\"",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}

/// Import by policy name recovers the applications from its bindings; the
/// first apply rewrites the text from the rules and keeps the binding.
#[test]
fn import_recovers_the_guarded_applications() {
    let (emu, h) = seeded();
    h.config(HOSTS);
    h.apply();
    let binding = emu.with(|i| {
        let p = i.store.insert_unchecked(
            "policies/expression",
            json!({"name": "admin-services-restriction", "expression": "return True"}),
        );
        let chrome = i.store.get("core/applications", "chrome").unwrap();
        i.store.insert_unchecked(
            "policies/bindings",
            json!({"policy": p["pk"], "target": chrome["pk"], "order": 0}),
        )["pk"]
            .clone()
    });
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }]"#,
    ));
    let out = h.import(
        "fwdauth_domain_restriction.admin",
        "admin-services-restriction",
    );
    assert!(out.success(), "{}", out.combined());
    let imported = h.resource_values("fwdauth_domain_restriction.admin");
    assert_eq!(imported["applications"], json!(["chrome"]));
    assert_eq!(imported["bindings"]["chrome"], binding);
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("~ expression"), "{}", plan.stdout);
    h.apply();
    h.assert_plan_empty();
    assert_eq!(
        h.resource_values("fwdauth_domain_restriction.admin")["bindings"]["chrome"],
        binding
    );
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "emo"));
}

fn user_pk(emu: &Emulator, username: &str) -> i64 {
    emu.with(|i| i.store.get_by("core/users", "username", username).unwrap()["pk"].as_i64())
        .unwrap()
}

fn add_user(emu: &Emulator, username: &str, email: &str) -> i64 {
    emu.with(|i| {
        i.store.insert_unchecked(
            "core/users",
            json!({"username": username, "name": username, "email": email}),
        )["pk"]
            .as_i64()
            .unwrap()
    })
}

fn api(emu: &Emulator, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
    let mut req = reqwest::blocking::Client::new()
        .request(method, format!("{}/api/v3/{path}", emu.url()))
        .bearer_auth(DEFAULT_TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().unwrap().status().as_u16()
}

/// An e-mail address, or a username, that more than one account answers to
/// fails the plan at `rules[0].users` with every candidate named; listing
/// the intended account by its username applies, and the policy admits its
/// primary key only.
#[test]
fn names_several_accounts_answer_to_fail_the_plan() {
    let emu = Emulator::start();
    seed(&emu);
    let viktor = user_pk(&emu, "vbarzin");
    // Enrolled with Viktor's address (Authentik checks only usernames for
    // duplicates), and with Viktor's address as username.
    let same_email = add_user(&emu, "mallory", "vbarzin@gmail.com");
    let as_username = add_user(&emu, "vbarzin@gmail.com", "mallory@evil.test");
    let h = harness(&emu);
    h.config(HOSTS);
    h.apply();
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }]"#,
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "User \"vbarzin@gmail.com\" is ambiguous".to_string(),
        "rules[0].users lists \"vbarzin@gmail.com\", and 3 Authentik accounts answer to it"
            .to_string(),
        format!("pk {viktor} (username \"vbarzin\", e-mail \"vbarzin@gmail.com\")"),
        format!("pk {same_email} (username \"mallory\", e-mail \"vbarzin@gmail.com\")"),
        format!("pk {as_username} (username \"vbarzin@gmail.com\", e-mail \"mallory@evil.test\")"),
        "List the intended account by its username".to_string(),
    ] {
        assert!(text.contains(&want), "{want}: {text}");
    }
    assert_eq!(policies(&emu), 0);
    // By username: Viktor alone, whoever else claims his address.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin"] }]"#,
    ));
    h.apply();
    h.assert_plan_empty();
    let state = h.resource_values("fwdauth_domain_restriction.admin");
    assert_eq!(state["resolved_users"], json!({"vbarzin": viktor}));
    assert!(
        state["expression"]
            .as_str()
            .unwrap()
            .contains(&format!("        {viktor},  # \"vbarzin\"\n")),
        "{state}"
    );
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "mallory"));
    assert!(!check_access(&emu, "chrome", "vbarzin@gmail.com"));
    assert!(!check_access(&emu, "chrome", "emo"));
}

/// A listed user renamed keeps access (the policy admits the account) and
/// the plan asks for the new name; deleted, the policy denies whoever
/// recreates the name until the plan, which resolves it again and shows the
/// rewrite, is applied.
#[test]
fn accounts_changing_after_the_apply() {
    let (emu, h) = seeded();
    h.config(HOSTS);
    h.apply();
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin"] }]"#,
    ));
    h.apply();
    let old = user_pk(&emu, "vbarzin");
    // Between a saved plan and its apply, someone enrolls with Viktor's
    // address and he changes his own: the apply writes nothing.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin", "vbarzin@gmail.com"] }]"#,
    ));
    assert!(h.run(&["plan", "-out=tfplan", "-no-color"]).success());
    let mallory = add_user(&emu, "mallory", "vbarzin@gmail.com");
    let out = h.run(&["apply", "-no-color", "tfplan"]);
    assert!(!out.success());
    assert!(flat(&out.combined()).contains("User \"vbarzin@gmail.com\" is ambiguous"));
    assert_eq!(
        api(
            &emu,
            reqwest::Method::DELETE,
            &format!("core/users/{mallory}/"),
            None
        ),
        204
    );
    assert!(h.run(&["plan", "-out=tfplan", "-no-color"]).success());
    emu.with(|i| {
        i.store.mutate("core/users", &old.to_string(), |u| {
            u.insert("email".into(), json!("viktor@example.org"));
        })
    });
    let out = h.run(&["apply", "-no-color", "tfplan"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    assert!(
        text.contains("User \"vbarzin@gmail.com\" not found"),
        "{text}"
    );
    emu.with(|i| {
        i.store.mutate("core/users", &old.to_string(), |u| {
            u.insert("email".into(), json!("vbarzin@gmail.com"));
        })
    });
    // A change that leaves every entry on its account (the address in
    // other case) does not stand in the way of the saved plan.
    assert!(h.run(&["plan", "-out=tfplan", "-no-color"]).success());
    emu.with(|i| {
        i.store.mutate("core/users", &old.to_string(), |u| {
            u.insert("email".into(), json!("VBarzin@Gmail.com"));
        })
    });
    let out = h.run(&["apply", "-no-color", "tfplan"]);
    assert!(out.success(), "{}", out.combined());
    assert_eq!(
        h.resource_values("fwdauth_domain_restriction.admin")["resolved_users"],
        json!({"vbarzin": old, "vbarzin@gmail.com": old})
    );
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin"] }]"#,
    ));
    h.apply();
    h.assert_plan_empty();
    // Renamed: still admitted; the plan cannot find the name.
    assert_eq!(
        api(
            &emu,
            reqwest::Method::PATCH,
            &format!("core/users/{old}/"),
            Some(json!({"username": "viktor"}))
        ),
        200
    );
    assert!(check_access(&emu, "chrome", "viktor"));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = flat(&out.combined());
    for want in [
        "User \"vbarzin\" not found".to_string(),
        format!(
            "It was resolved to pk {old} (username \"viktor\", e-mail \"VBarzin@Gmail.com\") when last applied; the policy still admits that account"
        ),
    ] {
        assert!(text.contains(&want), "{want}: {text}");
    }
    // Deleted, and someone creates the name again.
    assert_eq!(
        api(
            &emu,
            reqwest::Method::DELETE,
            &format!("core/users/{old}/"),
            None
        ),
        204
    );
    let new = add_user(&emu, "vbarzin", "vbarzin@gmail.com");
    assert_ne!(new, old);
    assert!(
        !check_access(&emu, "chrome", "vbarzin"),
        "the stored policy admits the old primary key only"
    );
    let plan = h.run(&["plan", "-detailed-exitcode", "-no-color"]);
    assert_eq!(plan.status, 2, "{}", plan.combined());
    let text = flat(&plan.combined());
    for want in [
        format!("- {old}, # \"vbarzin\""),
        format!("+ {new}, # \"vbarzin\""),
        format!("+ \"vbarzin\" = {new}"),
    ] {
        assert!(text.contains(&want), "{want}: {text}");
    }
    h.apply();
    h.assert_plan_empty();
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "emo"));
}

/// State written by version 1 (the policy admitted by username or e-mail at
/// login) has no resolved accounts: the first plan resolves every entry and
/// rewrites the expression to admit by primary key.
#[test]
fn version_1_state_is_rewritten_to_primary_keys() {
    let (emu, h) = seeded();
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin@gmail.com"] }]"#,
    ));
    h.apply();
    // What version 1 stored: no resolved_users, a name-matching text.
    let v1_text = "names = {request.user.username, request.user.email}\nreturn bool(names & {\"vbarzin@gmail.com\"})";
    let policy = h.resource_values("fwdauth_domain_restriction.admin")["id"].clone();
    emu.with(|i| {
        i.store
            .mutate("policies/expression", policy.as_str().unwrap(), |p| {
                p.insert("expression".into(), json!(v1_text));
            })
    });
    let mut state: Value = serde_json::from_str(&h.raw_state()).unwrap();
    state["serial"] = json!(state["serial"].as_i64().unwrap() + 1);
    for r in state["resources"].as_array_mut().unwrap() {
        if r["type"] == "fwdauth_domain_restriction" {
            let inst = &mut r["instances"][0];
            inst["schema_version"] = json!(1);
            let attrs = inst["attributes"].as_object_mut().unwrap();
            attrs.remove("resolved_users");
            attrs.insert("expression".into(), json!(v1_text));
        }
    }
    std::fs::write(
        h.work_dir().join("terraform.tfstate"),
        serde_json::to_string_pretty(&state).unwrap(),
    )
    .unwrap();
    // Someone enrolls with Viktor's address: the old text would admit them.
    add_user(&emu, "mallory", "vbarzin@gmail.com");
    assert!(check_access(&emu, "chrome", "mallory"));
    // The first plan resolves the entry, and the address is ambiguous.
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    assert!(flat(&out.combined()).contains("User \"vbarzin@gmail.com\" is ambiguous"));
    // Listed by username, it rewrites the text to Viktor's primary key.
    h.config(&with_restriction(
        "[fwdauth_protected_host.chrome.slug]",
        r#"[{ host = "chrome.*", users = ["vbarzin"] }]"#,
    ));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.success(), "{}", plan.combined());
    let text = flat(&plan.stdout);
    assert!(text.contains("~ expression"), "{text}");
    assert!(text.contains("+ resolved_users"), "{text}");
    h.apply();
    h.assert_plan_empty();
    assert!(check_access(&emu, "chrome", "vbarzin"));
    assert!(!check_access(&emu, "chrome", "mallory"));
}
