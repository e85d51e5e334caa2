//! `fwdauth_protected_host` sees who Authentik admits, with hostile
//! bindings added out of band on its application. Authentik's
//! `PolicyEngine` (`authentik/policies/engine.py`) evaluates only bindings
//! with `enabled = true`; `negate` inverts a binding's result
//! (`authentik/policies/models.py`, `process.py`); in `policy_engine_mode =
//! "any"` one passing binding admits. So a disabled binding admits nobody,
//! a negated group binding admits everyone outside the group, and a policy
//! binding admits whoever its policy passes. The host reads as its own only
//! enabled, non-negated group/user bindings, never deletes the others, and
//! fails the plan when the others admit around its lists. The emulator's
//! `check_access` shows what Authentik would decide in each state.

mod common;

use authentik_emulator::{Emulator, access};
use common::SOURCE;
use serde_json::{Value as Json, json};
use tfplugin::testing::Harness;

fn config(mode: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

resource "fwdauth_protected_host" "grafana" {{
  slug               = "grafana"
  name               = "Grafana"
  external_host      = "https://grafana.example.com"
  policy_engine_mode = "{mode}"
  allowed_groups     = ["ops"]
  allowed_users      = ["vbarzin"]
}}
"#
    )
}

fn pk_of(emu: &Emulator, path: &str, field: &str, value: &str) -> Json {
    emu.with(|i| i.store.get_by(path, field, value).expect(value)["pk"].clone())
}

/// Whether Authentik admits user `username` to grafana.
fn admitted(emu: &Emulator, username: &str) -> bool {
    let user = pk_of(emu, "core/users", "username", username);
    let (status, body) =
        emu.with(|i| access::check_access(&i.store, "grafana", &format!("for_user={user}"), &[]));
    assert_eq!(status, 200, "{body}");
    body["passing"].as_bool().unwrap()
}

fn bind(emu: &Emulator, app: &Json, binding: Json) -> Json {
    let mut b =
        json!({"target": app, "order": 50, "negate": false, "enabled": true, "timeout": 30});
    for (k, v) in binding.as_object().unwrap() {
        b[k] = v.clone();
    }
    emu.with(|i| i.store.insert_unchecked("policies/bindings", b))["pk"].clone()
}

fn bindings(emu: &Emulator, app: &Json) -> Vec<Json> {
    emu.with(|i| {
        i.store
            .all("policies/bindings")
            .into_iter()
            .filter(|b| &b["target"] == app)
            .collect()
    })
}

fn plan(h: &Harness) -> (bool, String) {
    let out = h.run(&["plan", "-no-color"]);
    (out.success(), out.combined())
}

#[test]
fn hostile_bindings_are_read_as_authentik_evaluates_them() {
    let emu = Emulator::start();
    emu.with(|i| {
        let ops = i
            .store
            .insert_unchecked("core/groups", json!({"name": "ops"}));
        i.store
            .insert_unchecked("core/groups", json!({"name": "devs"}));
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "vbarzin", "name": "Viktor", "email": "vbarzin@example.test"}),
        );
        i.store.insert_unchecked(
            "core/users",
            json!({"username": "olga", "name": "Olga", "groups": [ops["pk"]]}),
        );
        i.store
            .insert_unchecked("core/users", json!({"username": "emo", "name": "Emo"}));
    });
    let h = common::harness(&emu);
    h.config(&config("any"));
    h.apply();
    h.assert_plan_empty();
    let app = json!(h.resource_values("fwdauth_protected_host.grafana")["application_uuid"]);
    assert!(admitted(&emu, "olga") && admitted(&emu, "vbarzin") && !admitted(&emu, "emo"));

    // 1. The ops binding disabled out of band: Authentik no longer evaluates
    // it, so ops members are not admitted. The host reads ops as not
    // admitted, the plan adds it back, the apply makes a new enabled
    // binding and leaves the disabled one alone.
    let ops_pk = pk_of(&emu, "core/groups", "name", "ops");
    let ops_binding = bindings(&emu, &app)
        .into_iter()
        .find(|b| b["group"] == ops_pk)
        .unwrap()["pk"]
        .clone();
    emu.with(|i| {
        i.store
            .mutate("policies/bindings", ops_binding.as_str().unwrap(), |b| {
                b.insert("enabled".into(), json!(false));
            })
    });
    assert!(!admitted(&emu, "olga"));
    let (ok, text) = plan(&h);
    assert!(ok, "{text}");
    assert!(
        text.contains("allowed_groups") && text.contains("+ \"ops\""),
        "the plan must show ops being admitted again:\n{text}"
    );
    h.apply();
    h.assert_plan_empty();
    assert!(admitted(&emu, "olga"));
    let now = bindings(&emu, &app);
    assert!(
        now.iter()
            .any(|b| b["pk"] == ops_binding && b["enabled"] == json!(false)),
        "the disabled binding is not the host's to delete: {now:?}"
    );

    // 2. A negated group binding (not in devs) in "any" mode admits
    // everyone outside devs, emo included: the plan fails naming it, the
    // state does not list devs, and nothing is deleted.
    let devs = pk_of(&emu, "core/groups", "name", "devs");
    let negated = bind(&emu, &app, json!({"group": devs, "negate": true}));
    assert!(admitted(&emu, "emo"), "what Authentik does with it");
    let (ok, text) = plan(&h);
    assert!(
        !ok,
        "a negated binding in any mode must fail the plan:\n{text}"
    );
    assert!(
        text.contains("admits users its lists do not name")
            && text.contains(negated.as_str().unwrap())
            && text.contains("policy_engine_mode"),
        "{text}"
    );
    let refreshed = h.run(&["apply", "-refresh-only", "-auto-approve", "-no-color"]);
    assert!(refreshed.success(), "{}", refreshed.combined());
    let vals = h.resource_values("fwdauth_protected_host.grafana");
    assert_eq!(vals["allowed_groups"], json!(["ops"]), "{vals}");
    assert!(bindings(&emu, &app).iter().any(|b| b["pk"] == negated));

    // 3. In "all" mode the negated binding can only narrow: the plan warns
    // and the apply goes through, leaving it in place.
    h.config(&config("all"));
    let (ok, text) = plan(&h);
    assert!(ok, "{text}");
    assert!(
        text.contains("has negated bindings it does not manage"),
        "{text}"
    );
    h.apply();
    assert!(bindings(&emu, &app).iter().any(|b| b["pk"] == negated));
    // ops ∧ vbarzin ∧ not devs: nobody is in both lists, so nobody gets in.
    assert!(!admitted(&emu, "olga") && !admitted(&emu, "emo"));

    // 4. Back to "any" without the negated binding, and someone else's
    // policy bound to the application: it admits whoever it passes (here
    // everyone), around allowed_groups/allowed_users. The plan fails naming
    // it; the host never deletes it.
    emu.with(|i| {
        i.store
            .objects
            .get_mut("policies/bindings")
            .unwrap()
            .retain(|b| b["pk"] != negated)
    });
    h.config(&config("any"));
    let policy = emu.with(|i| {
        i.store.insert_unchecked(
            "policies/expression",
            json!({"name": "someone-elses", "expression": "return True"}),
        )
    })["pk"]
        .clone();
    let pb = bind(&emu, &app, json!({"policy": policy}));
    let (ok, text) = plan(&h);
    assert!(!ok, "{text}");
    assert!(
        text.contains("would admit around its policy") && text.contains(pb.as_str().unwrap()),
        "{text}"
    );
    assert!(bindings(&emu, &app).iter().any(|b| b["pk"] == pb));

    // 5. A disabled policy binding and a disabled negated binding are not
    // evaluated: the plan of the unchanged host is clean again.
    emu.with(|i| {
        i.store
            .mutate("policies/bindings", pb.as_str().unwrap(), |b| {
                b.insert("enabled".into(), json!(false));
            })
    });
    bind(
        &emu,
        &app,
        json!({"group": devs, "negate": true, "enabled": false}),
    );
    let (ok, text) = plan(&h);
    assert!(ok, "{text}");
    h.apply();
    h.assert_plan_empty();
    assert!(admitted(&emu, "olga") && admitted(&emu, "vbarzin") && !admitted(&emu, "emo"));
    emu.with(|i| {
        assert!(
            i.store.ignored_fields.is_empty(),
            "{:?}",
            i.store.ignored_fields
        );
        assert!(
            i.store.coerced_fields.is_empty(),
            "{:?}",
            i.store.coerced_fields
        );
    });
}
