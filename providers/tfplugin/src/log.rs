//! hclog-style JSON logging on stderr, for the SDK and provider code.
//!
//! Terraform's plugin client parses each stderr line that is an hclog JSON
//! object and re-logs it with the provider's name at the given level
//! (visible with `TF_LOG=debug`); anything else shows up as raw debug output.
//! Tests can capture every line to assert that secrets never reach the log.

use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use time::OffsetDateTime;
use time::macros::format_description;

static CAPTURE: Mutex<Option<Vec<String>>> = Mutex::new(None);

pub fn trace(msg: &str) {
    emit("trace", msg);
}
pub fn debug(msg: &str) {
    emit("debug", msg);
}
pub fn info(msg: &str) {
    emit("info", msg);
}
pub fn warn(msg: &str) {
    emit("warn", msg);
}
pub fn error(msg: &str) {
    emit("error", msg);
}

fn emit(level: &str, msg: &str) {
    let line = serde_json::json!({
        "@level": level,
        "@message": msg,
        "@module": "provider",
        "@timestamp": timestamp(SystemTime::now()),
    })
    .to_string();
    if let Ok(mut c) = CAPTURE.lock()
        && let Some(lines) = c.as_mut()
    {
        lines.push(line.clone());
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Starts keeping a copy of every log line in memory (test harness).
pub fn start_capture() {
    if let Ok(mut c) = CAPTURE.lock() {
        c.get_or_insert_with(Vec::new);
    }
}

/// Every line logged since capture started, in order.
pub fn captured() -> String {
    CAPTURE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().map(|l| l.join("\n")))
        .unwrap_or_default()
}

/// RFC 3339 UTC with microseconds, the shape hclog writes.
fn timestamp(t: SystemTime) -> String {
    let t = OffsetDateTime::from(t);
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.format(&fmt).unwrap_or_default()
}

/// A panic prints a `panic: ` line (go-plugin and Terraform recognise it and
/// report a provider crash) plus where it happened.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panic: {msg}\n\ngoroutine 1 [running]:\n{at}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_micros(1_764_000_000_123_456);
        assert_eq!(timestamp(t), "2025-11-24T16:00:00.123456Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }
}
