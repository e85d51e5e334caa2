//! Membership of one proxy provider in an outpost's `providers` list.
//!
//! Authentik stores the list as a whole and PUT/PATCH replaces it — last write
//! wins, with no version check. Many hosts attach to the same (embedded)
//! outpost, so every change here is a read-modify-write of our own pk only;
//! other entries are never removed or reordered by us. See
//! [`set_membership`] for how concurrent writers are kept from undoing each
//! other, and what that can and cannot guarantee.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
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

/// One lock per outpost name for this process: every host of one
/// `terraform apply` runs in one provider process, so holding it across a
/// whole read-modify-write-verify makes those changes one at a time.
fn outpost_lock(name: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    locks.entry(name.to_string()).or_default().clone()
}

/// Adds (`want = true`) or removes our provider `pk`, verified.
///
/// Within this process (all hosts of one apply) changes to one outpost are
/// serialised by [`outpost_lock`], held from the read to the last verifying
/// re-read, and a write of the list is never re-sent by the HTTP layer
/// ([`Api::patch_once`]): when its fate is uncertain the next round reads
/// the list again and recomputes from what it finds. So no host of this
/// process can overwrite another's change with a list read before it.
///
/// Across processes (other stacks writing the same outpost) there is no
/// lock Authentik would honour. After our write we re-read at once and
/// again after `settle`: a writer that read the list before our write and
/// writes within that time is seen, and we go again. What this cannot
/// exclude: a write that lands later than `settle` after it was computed
/// (another process's slow read-modify-write, or a write of ours the client
/// gave up on and the server acts on only after we moved on) puts back the
/// list it was computed from, dropping entries written since, ours or
/// another host's. That is not silent: the next refresh reads each dropped
/// provider as not in the outpost (`outpost` empty) and the plan re-attaches
/// it.
pub fn set_membership(
    api: &Api,
    name: &str,
    pk: i64,
    want: bool,
    settle: Duration,
) -> Result<(), String> {
    let what = format!("outpost {name:?} (membership of proxy provider {pk})");
    let lock = outpost_lock(name);
    let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut last_write = None;
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
            match api.patch_once(
                &format!("outposts/instances/{uuid}/"),
                &json!({ "providers": list }),
                &what,
            ) {
                Ok(_) => last_write = None,
                Err(e) if e.is_uncertain() => {
                    last_write = Some(e.to_string());
                    std::thread::sleep(jitter(pk, round));
                    continue;
                }
                Err(e) => return Err(e.to_string()),
            }
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
    Err(match last_write {
        Some(e) => format!(
            "{what}: the change was not seen in the outpost's provider list after {ROUNDS} read-modify-write rounds; the last write failed: {e}"
        ),
        None => format!(
            "{what}: another writer kept overwriting the outpost's provider list; gave up after {ROUNDS} read-modify-write rounds"
        ),
    })
}
