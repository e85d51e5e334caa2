//! The rate-limit fault mode over HTTP: answers carry `Retry-After` in the
//! form asked for, and a client coming back before the time it was given is
//! counted as early.

use authentik_emulator::{DEFAULT_TOKEN, Emulator, RateLimitStats};
use reqwest::blocking::Client;
use serde_json::json;

fn get(emu: &Emulator) -> (u16, Option<String>) {
    let r = Client::new()
        .get(format!("{}/api/v3/core/users/", emu.url()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .unwrap();
    let ra = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), ra)
}

#[test]
fn retry_after_seconds_then_early_retries_are_counted() {
    let emu = Emulator::start();
    Client::new()
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(
            &json!({"path_contains": "/core/users/", "status": 429, "count": 2,
                      "retry_after": {"seconds": 300}}),
        )
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_eq!(get(&emu), (429, Some("300".into())));
    // Back at once: still limited, and counted as early.
    assert_eq!(get(&emu), (429, Some("300".into())));
    let (status, ra) = get(&emu);
    assert_eq!((status, ra), (200, None), "the fault is used up");
    assert_eq!(
        emu.rate_limit_stats(),
        RateLimitStats {
            limited: 2,
            early: 2
        }
    );
}

#[test]
fn retry_after_as_an_http_date() {
    let emu = Emulator::start();
    Client::new()
        .post(format!("{}/_emulator/faults", emu.url()))
        .json(
            &json!({"path_contains": "/core/users/", "status": 503, "count": 1,
                      "retry_after": {"date_in": 600}}),
        )
        .send()
        .unwrap();
    let (status, ra) = get(&emu);
    assert_eq!(status, 503);
    let ra = ra.expect("Retry-After");
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    assert_eq!(ra.len(), 29, "{ra}");
    assert!(ra.ends_with(" GMT") && ra.as_bytes()[3] == b',', "{ra}");
    let stats: serde_json::Value = Client::new()
        .get(format!("{}/_emulator/stats", emu.url()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (
            stats["rate_limited"].as_u64(),
            stats["early_retries"].as_u64()
        ),
        (Some(1), Some(0))
    );
}
