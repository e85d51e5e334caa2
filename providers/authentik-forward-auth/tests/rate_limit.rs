//! Rate limits through real terraform: the emulator answers 429/503 with
//! `Retry-After` (seconds and HTTP-date); the provider must come back only
//! after the time given (the emulator counts early returns), repeat a
//! throttled POST without creating twice, and, when the limit outlasts its
//! retries or its wait budget, fail with an error naming the rate limit.

mod common;

use authentik_emulator::{Emulator, RateLimitStats, RetryAfter};
use common::{fault, one_line};
use tfplugin::testing::Harness;

fn harness(emu: &Emulator) -> Harness {
    let h = common::harness(emu);
    h.config(&common::config(
        "retries = 2",
        r#"resource "fwdauth_protected_host" "grafana" {
  slug          = "grafana"
  name          = "Grafana"
  external_host = "https://grafana.example.com"
  mode          = "forward_single"
}
"#,
    ));
    h
}

#[test]
fn throttled_requests_wait_as_told_and_a_post_is_not_doubled() {
    let emu = Emulator::start();
    let h = harness(&emu);
    // Two 429s in seconds on a read, one 503 with an HTTP-date on the create.
    emu.inject_rate_limit(fault("GET", "/flows/", 429, 2), RetryAfter::Seconds(1));
    emu.inject_rate_limit(
        fault("POST", "/providers/proxy/", 503, 1),
        RetryAfter::DateIn(1),
    );
    h.apply();
    assert_eq!(
        emu.rate_limit_stats(),
        RateLimitStats {
            limited: 3,
            early: 0
        },
        "every throttled answer was retried, none before its Retry-After"
    );
    assert!(
        emu.with(|i| i.faults.is_empty()),
        "all faults were consumed"
    );
    let providers = emu.with(|i| i.store.all("providers/proxy").len());
    assert_eq!(providers, 1, "the throttled POST created one provider");
    h.assert_plan_empty();
}

#[test]
fn a_limit_that_outlasts_the_retries_is_named() {
    let emu = Emulator::start();
    let h = harness(&emu);
    emu.inject_rate_limit(fault("GET", "/flows/", 429, 3), RetryAfter::Seconds(0));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = one_line(&out.combined());
    assert!(
        text.contains("Authentik is rate limiting this client (HTTP 429, Retry-After 0s) and still was after 3 attempt(s)"),
        "{text}"
    );
    // retries = 2: the three throttled answers went to one request.
    assert_eq!(emu.rate_limit_stats().limited, 3);
}

#[test]
fn a_wait_beyond_the_budget_is_reported_without_waiting() {
    let emu = Emulator::start();
    let h = harness(&emu);
    emu.inject_rate_limit(fault("GET", "/flows/", 503, 1), RetryAfter::Seconds(3600));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = one_line(&out.combined());
    assert!(
        text.contains("(HTTP 503, Retry-After 3600s) and still was after 1 attempt(s): the wait it asked for is more than the 60s this provider waits per request"),
        "{text}"
    );
    assert_eq!(emu.rate_limit_stats().limited, 1);
}
