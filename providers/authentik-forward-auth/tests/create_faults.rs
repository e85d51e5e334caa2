//! Creates that fail without being acted on, through real terraform. A
//! POST answered 5xx before the server made anything is not repeated
//! blindly: the provider looks the object up, finds nothing, and only then
//! sends it again, so one apply converges. Before, the host failed and was
//! rolled back, and under a steady fault rate the same host could fail
//! every apply (the campaign's host that never got created).

mod common;

use authentik_emulator::Emulator;
use common::{counts, fault, grafana_harness as harness};

/// The next `count` POSTs to `path` are answered `status`, nothing made.
fn refuse(emu: &Emulator, path: &str, status: u16, count: u32) {
    emu.inject(fault("POST", path, status, count));
}

#[test]
fn creates_answered_5xx_unmade_are_sent_again_and_one_apply_converges() {
    let emu = Emulator::start();
    let h = harness(&emu);
    let before = counts(&emu);
    refuse(&emu, "/providers/proxy/", 500, 2);
    refuse(&emu, "/core/applications/", 500, 1);
    refuse(&emu, "/policies/bindings/", 500, 2);
    h.apply();
    assert!(
        emu.with(|i| i.faults.is_empty()),
        "every injected fault fired"
    );
    assert_eq!(
        counts(&emu),
        (before.0 + 1, before.1 + 1, before.2 + 1),
        "one provider, one application, one binding: no duplicate, no orphan"
    );
    let pk = emu.with(|i| {
        i.store
            .get_by("providers/proxy", "name", "Grafana")
            .unwrap()["pk"]
            .clone()
    });
    assert_eq!(
        h.resource_values("fwdauth_protected_host.grafana")["provider_pk"],
        pk
    );
    h.assert_plan_empty();
}

/// The re-sending is bounded: a create refused every time fails the apply
/// with the server's answer, and nothing is left behind.
#[test]
fn a_create_refused_every_time_fails_with_the_answer_and_leaves_nothing() {
    let emu = Emulator::start();
    let h = harness(&emu);
    let before = counts(&emu);
    refuse(&emu, "/core/applications/", 500, 100);
    let out = h.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(!out.success());
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Cannot create application")
            && text.contains("Authentik answered HTTP 500")
            && text.contains("injected fault"),
        "{text}"
    );
    assert_eq!(
        counts(&emu),
        before,
        "the provider made first was rolled back"
    );
    assert!(h.state_json()["values"].is_null(), "nothing in state");
}
