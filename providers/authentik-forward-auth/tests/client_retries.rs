//! Which requests the Authentik client sends again (`client.rs`'s module
//! doc), against the emulator's injected faults (answered before anything
//! is done): a gateway's 502/503/504 for every method, any 5xx for GET,
//! PATCH and DELETE, never a POST answered 500, and never the outpost
//! list's read-modify-write (`patch_once`) once it may have reached the
//! server.

mod common;

use std::time::Duration;

use authentik_emulator::Emulator;
use authentik_forward_auth::client::{Api, ApiError};
use common::fault;
use serde_json::json;

fn api(emu: &Emulator) -> Api {
    common::api(emu, Duration::from_secs(5), 2, Duration::from_millis(10))
}

/// The final status and attempts of a request that ended in an HTTP error.
fn failed(r: Result<serde_json::Value, ApiError>) -> (u16, u32) {
    match r {
        Err(ApiError::Status {
            status, attempts, ..
        }) => (status, attempts),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

fn groups_named(emu: &Emulator, name: &str) -> usize {
    emu.with(|i| {
        i.store
            .all("core/groups")
            .iter()
            .filter(|g| g["name"] == name)
            .count()
    })
}

#[test]
fn what_is_sent_again_after_a_5xx() {
    let emu = Emulator::start();
    let api = api(&emu);
    let g = api
        .post("core/groups/", &json!({"name": "g"}), "group g")
        .unwrap();
    let path = format!("core/groups/{}/", g["pk"].as_str().unwrap());
    let body = json!({"name": "g2"});

    // A POST: a gateway's answers are retried (the request did not reach
    // Authentik), a 500 is not (it may have been acted on).
    for status in [502, 503, 504] {
        emu.inject(fault("POST", "/core/groups/", status, 1));
        let name = format!("made-after-{status}");
        api.post("core/groups/", &json!({"name": name}), "group")
            .unwrap();
        assert_eq!(groups_named(&emu, &name), 1, "created once");
    }
    emu.inject(fault("POST", "/core/groups/", 500, 1));
    let r = api.post("core/groups/", &json!({"name": "x"}), "group x");
    assert_eq!(failed(r), (500, 1));

    // PATCH setting fixed values and DELETE: any 5xx is retried.
    for status in [500, 502, 503, 504, 507] {
        emu.inject(fault("PATCH", &path, status, 1));
        api.patch(&path, &body, "group g").unwrap();
    }

    // The outpost list's write: never sent again after a 5xx.
    for status in [500, 502, 503, 504] {
        emu.inject(fault("PATCH", &path, status, 1));
        let r = api.patch_once(&path, &body, "group g");
        assert_eq!(failed(r), (status, 1), "patch_once after {status}");
    }

    emu.inject(fault("DELETE", &path, 500, 1));
    api.delete(&path, "group g").unwrap();
    assert_eq!(groups_named(&emu, "g2"), 0);
}
