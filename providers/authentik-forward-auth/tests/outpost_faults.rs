//! Outpost membership under faults. The outpost's `providers` list is
//! written whole, last write wins (no version check), so a write of the
//! list that is repeated after a 5xx, a reset or a timeout carries a list
//! read before: if another host wrote in between, its membership is lost.
//! `set_membership` never lets the HTTP layer re-send such a write; it
//! re-reads and recomputes. These tests fail when a stale list is re-sent.

mod common;

use std::sync::Arc;
use std::time::Duration;

use authentik_emulator::{EMBEDDED_OUTPOST, Emulator, Fault, LostAnswer};
use authentik_forward_auth::client::Api;
use authentik_forward_auth::outpost;
use common::{fault, members, providers, race};
use serde_json::{Value, json};

fn api(emu: &Emulator) -> Api {
    common::api(emu, Duration::from_secs(1), 3, Duration::from_millis(50))
}

/// Another writer (another stack, another process) adding `pk` directly.
fn add_behind_our_back(emu: &Emulator, pk: i64) {
    emu.with(|i| {
        let uuid = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap()["pk"]
            .as_str()
            .unwrap()
            .to_string();
        i.store.mutate("outposts/instances", &uuid, |o| {
            o.get_mut("providers")
                .and_then(Value::as_array_mut)
                .unwrap()
                .push(json!(pk));
        });
    });
}

/// Faults on the outpost: writes answered 5xx without acting, writes acted
/// on whose answer is lost, reads answered 500.
fn outpost_faults(emu: &Emulator) {
    emu.inject(outpost_writes("PATCH", 502, 3));
    emu.inject(outpost_writes("PATCH", 503, 2));
    emu.inject(outpost_writes("PATCH", 500, 2));
    emu.inject(outpost_writes("GET", 500, 3));
    emu.inject_lost_answer(LostAnswer {
        method: Some("PATCH".into()),
        path_contains: "/outposts/instances/".into(),
        count: 2,
        hold: Duration::from_millis(1500),
    });
}

fn outpost_writes(method: &str, status: u16, count: u32) -> Fault {
    fault(method, "/outposts/instances/", status, count)
}

/// Our write is processed but its answer is lost (the client times out);
/// another writer then adds its provider, reading the list with ours in it.
/// Re-sending our write would put back the list without theirs.
#[test]
fn a_write_whose_answer_was_lost_is_not_re_sent_over_a_later_write() {
    let emu = Arc::new(Emulator::start());
    let pks = providers(&emu, 2);
    let (ours, theirs) = (pks[0], pks[1]);
    emu.inject_lost_answer(LostAnswer {
        method: Some("PATCH".into()),
        path_contains: "/outposts/instances/".into(),
        count: 1,
        hold: Duration::from_millis(1500),
    });
    let writer = {
        let emu = emu.clone();
        std::thread::spawn(move || {
            outpost::set_membership(
                &api(&emu),
                EMBEDDED_OUTPOST,
                ours,
                true,
                Duration::from_millis(60),
            )
        })
    };
    // As soon as our write has landed (its answer is still held back).
    while !members(&emu).contains(&ours) {
        std::thread::sleep(Duration::from_millis(2));
    }
    add_behind_our_back(&emu, theirs);
    writer.join().unwrap().unwrap();
    assert_eq!(
        members(&emu),
        vec![ours, theirs],
        "the other writer's provider was overwritten by a re-sent list"
    );
}

/// Many hosts of one process (one terraform apply) attach and detach at
/// once while writes of the list fail (5xx answered without acting, lost
/// answers after acting) and reads fail too: every host ends attached, and
/// a detach removes only its own entry.
#[test]
fn concurrent_hosts_under_faults_never_lose_a_membership() {
    let emu = Arc::new(Emulator::start());
    let pks = providers(&emu, 12);
    outpost_faults(&emu);
    race(&emu, &pks, true, api);
    assert_eq!(members(&emu), pks, "every host attached");
    outpost_faults(&emu);
    race(&emu, &pks[..6], false, api);
    assert_eq!(
        members(&emu),
        pks[6..].to_vec(),
        "only our own entries removed"
    );
}

/// The same through real terraform: twelve hosts of one apply (one
/// provider process, `-parallelism=12`) under the same faults all end on
/// the outpost, and the next plan is empty.
#[test]
fn one_apply_of_many_hosts_under_faults_attaches_every_host() {
    let emu = Emulator::start();
    let h = common::harness(&emu);
    h.config(&common::config(
        "timeout_seconds = 1",
        r#"resource "fwdauth_protected_host" "h" {
  count          = 12
  slug           = "host-${count.index}"
  name           = "Host ${count.index}"
  external_host  = "https://host-${count.index}.example.com"
  allowed_groups = ["authentik Admins"]
}
"#,
    ));
    outpost_faults(&emu);
    let out = h.run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-parallelism=12",
    ]);
    assert!(out.success(), "{}", out.combined());
    let made: Vec<i64> = {
        let mut v: Vec<i64> = emu.with(|i| {
            i.store
                .all("providers/proxy")
                .iter()
                .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with("Host ")))
                .map(|p| p["pk"].as_i64().unwrap())
                .collect()
        });
        v.sort();
        v
    };
    assert_eq!(made.len(), 12);
    assert_eq!(members(&emu), made, "every host on the outpost");
    h.assert_plan_empty();
}
