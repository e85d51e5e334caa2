//! Outpost membership under contention, without terraform: many writers add
//! their own provider to one outpost at once. Authentik (and the emulator)
//! apply last-write-wins to the `providers` list, so a plain read-modify-write
//! loses entries; `set_membership` must not.

mod common;

use std::sync::Arc;
use std::time::Duration;

use authentik_emulator::{EMBEDDED_OUTPOST, Emulator};
use authentik_forward_auth::client::Api;
use authentik_forward_auth::outpost;
use common::{members, providers, race};
use serde_json::json;

fn api(emu: &Emulator) -> Api {
    common::api(emu, Duration::from_secs(10), 2, Duration::from_millis(20))
}

#[test]
fn concurrent_writers_all_end_up_attached_and_detached() {
    let emu = Arc::new(Emulator::start());
    let pks = providers(&emu, 16);
    race(&emu, &pks, true, api);
    assert_eq!(members(&emu), pks);
    race(&emu, &pks[..8], false, api);
    assert_eq!(
        members(&emu),
        pks[8..].to_vec(),
        "only our own entries removed"
    );
}

/// The failure mode the verification exists for: unverified read-modify-write
/// under the same contention loses entries (shows the emulator models
/// last-write-wins; if this ever stops losing, the race test above proves little).
#[test]
fn naive_read_modify_write_loses_entries() {
    let emu = Arc::new(Emulator::start());
    let pks = providers(&emu, 16);
    let barrier = Arc::new(std::sync::Barrier::new(pks.len()));
    let threads: Vec<_> = pks
        .iter()
        .map(|&pk| {
            let (emu, barrier) = (emu.clone(), barrier.clone());
            std::thread::spawn(move || {
                let api = api(&emu);
                let op = outpost::find(&api, EMBEDDED_OUTPOST).unwrap();
                barrier.wait();
                let mut list: Vec<i64> = op["providers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|p| p.as_i64())
                    .collect();
                list.push(pk);
                let uuid = op["pk"].as_str().unwrap();
                api.patch(
                    &format!("outposts/instances/{uuid}/"),
                    &json!({"providers": list}),
                    "naive",
                )
                .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(
        members(&emu).len() < pks.len(),
        "naive writers should have overwritten each other"
    );
}
