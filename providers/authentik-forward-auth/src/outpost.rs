//! Membership of one proxy provider in an outpost's `providers` list.
//!
//! Authentik stores the list as a whole and PUT/PATCH replaces it — last write
//! wins, with no version check. Many stacks attach to the same (embedded)
//! outpost, so every change here is a read-modify-write of our own pk only,
//! followed by re-reads: one at once, and one after a short settle time, by
//! which any other writer that read the list before our write has written
//! too. If our change was overwritten we go again. Other entries are never
//! removed or reordered by us.

use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{Api, ApiError, enc};

/// How many read-modify-write rounds before giving up.
const ROUNDS: u32 = 8;

/// The outpost named `name`. `OutpostFilter` has `name__iexact` (a bare
/// `name` is ignored and lists every outpost), so the exact, case-sensitive
/// match is made here.
pub fn find(api: &Api, name: &str) -> Result<Value, ApiError> {
    let what = format!("outpost {name:?}");
    let found = api.list(
        "outposts/instances/",
        &format!("name__iexact={}", enc(name)),
        &what,
    )?;
    found
        .into_iter()
        .find(|o| o["name"].as_str() == Some(name))
        .ok_or(ApiError::NotFound { what })
}

fn members(outpost: &Value) -> Vec<i64> {
    outpost["providers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// Whether provider `pk` is in the outpost's list.
pub fn is_member(api: &Api, name: &str, pk: i64) -> Result<bool, ApiError> {
    Ok(members(&find(api, name)?).contains(&pk))
}

/// A small pseudo-random pause so racing writers fall out of step.
fn jitter(pk: i64, round: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mix = u64::from(nanos) ^ (pk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(round);
    Duration::from_millis(10 + mix % 40)
}

/// Adds (`want = true`) or removes our provider `pk`, verified.
pub fn set_membership(
    api: &Api,
    name: &str,
    pk: i64,
    want: bool,
    settle: Duration,
) -> Result<(), String> {
    let what = format!("outpost {name:?} (membership of proxy provider {pk})");
    for round in 0..ROUNDS {
        let outpost = find(api, name).map_err(|e| e.to_string())?;
        let uuid = outpost["pk"].as_str().unwrap_or_default().to_string();
        let mut list = members(&outpost);
        if list.contains(&pk) != want {
            if want {
                list.push(pk);
            } else {
                list.retain(|p| *p != pk);
            }
            api.patch(
                &format!("outposts/instances/{uuid}/"),
                &json!({ "providers": list }),
                &what,
            )
            .map_err(|e| e.to_string())?;
        }
        let check = |api: &Api| -> Result<bool, String> {
            let now = api
                .get(&format!("outposts/instances/{uuid}/"), &what)
                .map_err(|e| e.to_string())?;
            Ok(members(&now).contains(&pk) == want)
        };
        if check(api)? {
            std::thread::sleep(settle + jitter(pk, round));
            if check(api)? {
                return Ok(());
            }
        }
        std::thread::sleep(jitter(pk, round));
    }
    Err(format!(
        "{what}: another writer kept overwriting the outpost's provider list; gave up after {ROUNDS} read-modify-write rounds"
    ))
}
