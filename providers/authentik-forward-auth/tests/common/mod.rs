//! What the fault tests share: the provider served against an emulator,
//! a configuration around a provider block, an API client of the emulator,
//! injected faults, and the embedded outpost's provider list.
// Each test binary uses some of these.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use authentik_emulator::{DEFAULT_TOKEN, EMBEDDED_OUTPOST, Emulator, Fault};
use authentik_forward_auth::FwdAuthProvider;
use authentik_forward_auth::client::{Api, Settings};
use authentik_forward_auth::outpost;
use serde_json::json;
use tfplugin::testing::Harness;

pub const SOURCE: &str = "registry.terraform.io/homelab/authentik-forward-auth";

/// The provider, served in-process, pointed at `emu` with its token.
pub fn harness(emu: &Emulator) -> Harness {
    Harness::new(
        SOURCE,
        FwdAuthProvider::with_env([
            ("AUTHENTIK_URL", emu.url()),
            ("AUTHENTIK_TOKEN", DEFAULT_TOKEN.to_string()),
        ]),
    )
}

/// The provider against `emu` configured with one host, `grafana`, bound
/// to a group, and a 1 s request timeout (a held-back answer is lost).
pub fn grafana_harness(emu: &Emulator) -> Harness {
    let h = harness(emu);
    h.config(&config(
        "timeout_seconds = 1",
        r#"resource "fwdauth_protected_host" "grafana" {
  slug           = "grafana"
  name           = "Grafana"
  external_host  = "https://grafana.example.com"
  allowed_groups = ["authentik Admins"]
}
"#,
    ));
    h
}

/// A configuration: the provider requirement, `provider "fwdauth"` with
/// `provider_args`, then `resources`.
pub fn config(provider_args: &str, resources: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

provider "fwdauth" {{
  {provider_args}
}}

{resources}"#
    )
}

/// An API client of `emu`, as the resources build it.
pub fn api(emu: &Emulator, timeout: Duration, retries: u32, backoff: Duration) -> Api {
    Api::new(&Settings {
        url: emu.url(),
        token: DEFAULT_TOKEN.into(),
        insecure: false,
        ca_pem: None,
        timeout,
        retries,
        backoff,
    })
    .unwrap()
}

/// The next `count` `method` requests whose path contains `path` are
/// answered `status`, nothing done.
pub fn fault(method: &str, path: &str, status: u16, count: u32) -> Fault {
    Fault {
        method: Some(method.into()),
        path_contains: path.into(),
        status,
        count,
    }
}

/// `n` proxy providers made directly in the emulator's store.
pub fn providers(emu: &Emulator, n: usize) -> Vec<i64> {
    emu.with(|i| {
        let flow = i.store.get("flows/instances", "default-provider-invalidation-flow").unwrap()["pk"].clone();
        (0..n)
            .map(|k| {
                i.store
                    .insert_unchecked(
                        "providers/proxy",
                        json!({"name": format!("p{k}"), "authorization_flow": flow, "invalidation_flow": flow, "external_host": "https://x.test"}),
                    )["pk"]
                    .as_i64()
                    .unwrap()
            })
            .collect()
    })
}

/// The embedded outpost's provider list, sorted.
pub fn members(emu: &Emulator) -> Vec<i64> {
    emu.with(|i| {
        let op = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap();
        let mut v: Vec<i64> = op["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect();
        v.sort();
        v
    })
}

/// (proxy providers, applications, bindings) in the emulator.
pub fn counts(emu: &Emulator) -> (usize, usize, usize) {
    emu.with(|i| {
        (
            i.store.all("providers/proxy").len(),
            i.store.all("core/applications").len(),
            i.store.all("policies/bindings").len(),
        )
    })
}

/// Every provider of `pks` added to (`want`) or removed from the embedded
/// outpost at once, one thread each, with its own client from `api`.
pub fn race(emu: &Arc<Emulator>, pks: &[i64], want: bool, api: fn(&Emulator) -> Api) {
    let threads: Vec<_> = pks
        .iter()
        .map(|&pk| {
            let emu = emu.clone();
            std::thread::spawn(move || {
                outpost::set_membership(
                    &api(&emu),
                    EMBEDDED_OUTPOST,
                    pk,
                    want,
                    Duration::from_millis(60),
                )
                .unwrap()
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// `s` with every run of white space one space (terraform wraps messages).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
