//! Creates whose answer is lost, through real terraform: the emulator
//! processes the POST and holds its answer past the provider's timeout
//! (`lost.rs` in the emulator), or answers 5xx. The provider never repeats
//! the POST; it finds the object by its unique key and adopts it only when
//! it is what was sent, so one apply converges with no duplicate and no
//! orphan. An object someone else made is named, not adopted, and an
//! "already exists" answer comes with the import line.

mod common;

use std::time::Duration;

use authentik_emulator::{Emulator, Fault, LostAnswer};
use common::{counts, grafana_harness as harness, one_line};
use serde_json::json;

fn lose(emu: &Emulator, path: &str) {
    emu.inject_lost_answer(LostAnswer {
        method: Some("POST".into()),
        path_contains: path.into(),
        count: 1,
        hold: Duration::from_secs(3),
    });
}

#[test]
fn lost_answers_to_every_create_are_adopted_and_the_apply_converges() {
    let emu = Emulator::start();
    let h = harness(&emu);
    let before = counts(&emu);
    lose(&emu, "/providers/proxy/");
    lose(&emu, "/core/applications/");
    lose(&emu, "/policies/bindings/");
    h.apply();
    assert_eq!(emu.with(|i| i.answers_lost), 3, "every fault fired");
    assert_eq!(
        counts(&emu),
        (before.0 + 1, before.1 + 1, before.2 + 1),
        "one provider, one application, one binding: no duplicate, no orphan"
    );
    let state = h.resource_values("fwdauth_protected_host.grafana");
    let pk = emu.with(|i| {
        i.store
            .get_by("providers/proxy", "name", "Grafana")
            .unwrap()["pk"]
            .clone()
    });
    assert_eq!(state["provider_pk"], pk, "the adopted provider is in state");
    h.assert_plan_empty();
}

#[test]
fn an_object_someone_else_made_is_named_and_not_adopted() {
    let emu = Emulator::start();
    let h = harness(&emu);
    let foreign = emu.with(|i| {
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
        i.store.insert_unchecked(
            "providers/proxy",
            json!({"name": "Grafana", "authorization_flow": flow, "invalidation_flow": inv,
                   "external_host": "https://elsewhere.example.com", "mode": "proxy"}),
        )
    });
    // The create's answer is a 500 that leaves open whether it was made.
    emu.inject(Fault {
        method: Some("POST".into()),
        path_contains: "/providers/proxy/".into(),
        status: 500,
        count: 1,
    });
    let before = counts(&emu);
    let out = h.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(!out.success());
    let text = one_line(&out.combined());
    assert!(
        text.contains(&format!("proxy provider \"Grafana\" (pk {}) exists in Authentik after a create whose answer was lost", foreign["pk"]))
            && text.contains("differs in: external_host, mode")
            && text.contains("is not adopted")
            && text.contains("terraform import <address of this fwdauth_protected_host> grafana"),
        "{text}"
    );
    assert_eq!(counts(&emu), before, "nothing made, nothing taken over");
    let kept = emu.with(|i| {
        i.store
            .get_by("providers/proxy", "name", "Grafana")
            .unwrap()
    });
    assert_eq!(kept["external_host"], "https://elsewhere.example.com");
    assert!(h.state_json()["values"].is_null(), "nothing in state");
}

#[test]
fn an_existing_application_is_named_with_its_import_line() {
    let emu = Emulator::start();
    let h = harness(&emu);
    emu.with(|i| {
        i.store.insert_unchecked(
            "core/applications",
            json!({"name": "Grafana (by hand)", "slug": "grafana"}),
        )
    });
    let before = counts(&emu);
    let out = h.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(!out.success());
    let text = one_line(&out.combined());
    assert!(
        text.contains("Cannot create application")
            && text.contains("application \"grafana\" (pk ")
            && text.contains("already exists in Authentik. To manage it with Terraform, import it: terraform import <address of this fwdauth_protected_host> grafana"),
        "{text}"
    );
    assert_eq!(
        counts(&emu),
        before,
        "the provider made first was rolled back"
    );
}
