//! Lost answers: the request is processed in full (the object is made),
//! then its answer is held back longer than the client waits, so the
//! client sees a timeout after the server acted: the fault that leaves a
//! created object the client does not know about.

use std::time::Duration;

use axum::http::Method;

/// The next `count` API requests whose method matches (any when `None`)
/// and whose path contains `path_contains` are processed, and their answer
/// is sent only after `hold`.
#[derive(Clone, Debug)]
pub struct LostAnswer {
    pub method: Option<String>,
    pub path_contains: String,
    pub count: u32,
    pub hold: Duration,
}

/// Takes one use of the first lost-answer fault that matches; its hold.
pub(crate) fn take(faults: &mut Vec<LostAnswer>, method: &Method, path: &str) -> Option<Duration> {
    let i = faults.iter().position(|f| {
        f.count > 0
            && path.contains(&f.path_contains)
            && f.method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
    })?;
    faults[i].count -= 1;
    let hold = faults[i].hold;
    if faults[i].count == 0 {
        faults.remove(i);
    }
    Some(hold)
}
