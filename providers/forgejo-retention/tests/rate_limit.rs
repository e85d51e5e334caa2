//! Rate limits through real terraform: the emulator answers 429/503 with
//! `Retry-After` (seconds and HTTP-date) on listing, manifest reads and
//! deletions; the provider must come back only after the time given (the
//! emulator counts early returns), finish the run as if nothing had
//! happened, and, when the limit outlasts its retries, stop with an error
//! naming the rate limit before deleting anything else.

mod common;

use forgejo_emulator::{Emulator, RetryAfter, seed_demo};
use tfplugin::testing::Harness;

const TOKEN: &str = "owner-token-s3cr3t";
const WEB_DELETES: &str = "DELETE /api/v1/packages/homelab/container/web/";

fn setup() -> (Emulator, Harness) {
    let emu = Emulator::new().token(TOKEN, "homelab", &["write:package"]);
    seed_demo(&emu, "homelab");
    let url = emu.spawn(0);
    let h = common::harness(TOKEN);
    h.config(&format!(
        r#"{}
resource "retention_policy" "web" {{
  owner     = "homelab"
  package   = "web"
  keep_last = 3
  dry_run   = false
}}
"#,
        common::provider(&url, "")
    ));
    (emu, h)
}

#[test]
fn throttled_reads_and_deletes_wait_as_told_and_the_run_completes() {
    let (emu, h) = setup();
    emu.inject_rate_limit(
        "GET /api/v1/packages/homelab",
        429,
        2,
        RetryAfter::Seconds(1),
    );
    emu.inject_rate_limit(
        "GET /v2/homelab/web/manifests/",
        503,
        1,
        RetryAfter::DateIn(1),
    );
    emu.inject_rate_limit(WEB_DELETES, 429, 1, RetryAfter::Seconds(1));
    h.apply();
    assert_eq!(
        emu.rate_limit_stats(),
        (4, 0),
        "every throttled answer was retried, none before its Retry-After"
    );
    for tag in ["latest", "sha-000d", "sha-000c", "sha-000b", "buildcache"] {
        assert!(emu.has_version("homelab", "web", tag), "{tag} kept");
    }
    assert!(
        !emu.has_version("homelab", "web", "sha-0000"),
        "the throttled deletion was retried"
    );
    h.assert_plan_empty();
}

#[test]
fn a_limit_that_outlasts_the_retries_stops_the_run_naming_it() {
    let (emu, h) = setup();
    let before = emu.versions("homelab").len();
    // retries defaults to 3: four throttled answers exhaust the first DELETE.
    emu.inject_rate_limit(WEB_DELETES, 429, 4, RetryAfter::Seconds(0));
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success());
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Forgejo is rate limiting this client (HTTP 429, Retry-After 0s) and still was after 4 attempt(s)"),
        "{text}"
    );
    assert_eq!(emu.rate_limit_stats().0, 4);
    assert_eq!(emu.versions("homelab").len(), before, "nothing deleted");
}
