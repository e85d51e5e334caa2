//! Migration from goauthentik through real terraform: a stack that protects
//! `chrome` with goauthentik's four resources (proxy provider, application,
//! the embedded outpost's provider attachment, one policy binding per
//! admitted user) replaces them with one `fwdauth_protected_host` without
//! touching Authentik: the application moves (`moved`, MoveResourceState),
//! the other three are forgotten (`removed`, destroy = false) and adopted by
//! the host's first read. The plan after the move is empty, and so is the
//! plan once the migration blocks and the goauthentik provider are gone.
//! goauthentik itself cannot be downloaded here: `goauthentik/mod.rs` is a
//! stand-in with its schemas.

mod common;

mod goauthentik;

use authentik_emulator::{DEFAULT_TOKEN, EMBEDDED_OUTPOST, Emulator};
use common::SOURCE;
use serde_json::{Value as Json, json};

/// Every object a forward-auth host is made of, for before/after checks.
fn objects(emu: &Emulator) -> Json {
    emu.with(|i| {
        let op = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap();
        json!({
            "providers": i.store.all("providers/proxy"),
            "applications": i.store.all("core/applications"),
            "bindings": i.store.all("policies/bindings"),
            "outpost_providers": op["providers"],
        })
    })
}

fn count(v: &Json, what: &str) -> usize {
    v[what].as_array().map_or(0, Vec::len)
}

#[test]
fn moved_block_replaces_four_goauthentik_resources_with_one_host() {
    let emu = Emulator::start();
    let (flow, invalidation, outpost, vbarzin, emo) = emu.with(|i| {
        let pk = |path: &str, key: &str| i.store.get(path, key).unwrap()["pk"].clone();
        let flow = pk(
            "flows/instances",
            "default-provider-authorization-implicit-consent",
        );
        let inv = pk("flows/instances", "default-provider-invalidation-flow");
        let op = i
            .store
            .get_by("outposts/instances", "name", EMBEDDED_OUTPOST)
            .unwrap()["pk"]
            .clone();
        let v = i.store.insert_unchecked(
            "core/users",
            json!({"username": "vbarzin", "name": "Viktor", "email": "vbarzin@gmail.com"}),
        );
        let e = i.store.insert_unchecked(
            "core/users",
            json!({"username": "emo", "name": "Emo", "email": "emil@example.test"}),
        );
        (flow, inv, op, v["pk"].clone(), e["pk"].clone())
    });
    let h = common::harness(&emu)
        .with_provider(goauthentik::SOURCE, goauthentik::GoAuthentik::default());
    let providers = format!(
        r#"terraform {{
  required_providers {{
    fwdauth   = {{ source = "{SOURCE}" }}
    authentik = {{ source = "goauthentik/authentik" }}
  }}
}}
provider "authentik" {{
  url   = "{url}"
  token = "{DEFAULT_TOKEN}"
}}
"#,
        url = emu.url()
    );

    // The goauthentik stack, as the seeds' stacks/authentik wrote it per host.
    h.config(&format!(
        r#"{providers}
resource "authentik_provider_proxy" "chrome" {{
  name                  = "chrome"
  external_host         = "https://chrome.example.com"
  mode                  = "forward_single"
  authorization_flow    = {flow}
  invalidation_flow     = {invalidation}
  access_token_validity = "hours=24"
}}
resource "authentik_application" "chrome" {{
  name              = "chrome"
  slug              = "chrome"
  protocol_provider = authentik_provider_proxy.chrome.id
}}
resource "authentik_outpost_provider_attachment" "chrome" {{
  outpost           = {outpost}
  protocol_provider = authentik_provider_proxy.chrome.id
}}
resource "authentik_policy_binding" "chrome_vbarzin" {{
  target = authentik_application.chrome.uuid
  user   = {vbarzin}
  order  = 0
}}
resource "authentik_policy_binding" "chrome_emo" {{
  target = authentik_application.chrome.uuid
  user   = {emo}
  order  = 1
}}
"#
    ));
    h.apply();
    let before = objects(&emu);
    assert_eq!(
        (
            count(&before, "providers"),
            count(&before, "applications"),
            count(&before, "bindings")
        ),
        (1, 1, 2)
    );

    // The migration: one host, one `moved`, three `removed` (keep the objects).
    let host = r#"
resource "fwdauth_protected_host" "chrome" {
  slug                  = "chrome"
  name                  = "chrome"
  external_host         = "https://chrome.example.com"
  mode                  = "forward_single"
  access_token_validity = "hours=24"
  allowed_users         = ["vbarzin", "emo"]
}
"#;
    let forget = |addr: &str| {
        format!("removed {{\n  from = {addr}\n  lifecycle {{\n    destroy = false\n  }}\n}}\n")
    };
    h.config(&format!(
        "{providers}{host}
moved {{
  from = authentik_application.chrome
  to   = fwdauth_protected_host.chrome
}}
{}{}{}{}",
        forget("authentik_provider_proxy.chrome"),
        forget("authentik_outpost_provider_attachment.chrome"),
        forget("authentik_policy_binding.chrome_vbarzin"),
        forget("authentik_policy_binding.chrome_emo"),
    ));
    let plan = h.plan_json();
    let mut actions: Vec<(String, String, Json)> = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["previous_address"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                c["change"]["actions"].clone(),
            )
        })
        .collect();
    actions.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        actions,
        vec![
            (
                "authentik_outpost_provider_attachment.chrome".into(),
                String::new(),
                json!(["forget"])
            ),
            (
                "authentik_policy_binding.chrome_emo".into(),
                String::new(),
                json!(["forget"])
            ),
            (
                "authentik_policy_binding.chrome_vbarzin".into(),
                String::new(),
                json!(["forget"])
            ),
            (
                "authentik_provider_proxy.chrome".into(),
                String::new(),
                json!(["forget"])
            ),
            (
                "fwdauth_protected_host.chrome".into(),
                "authentik_application.chrome".into(),
                json!(["no-op"])
            ),
        ],
        "the application moves in place, the rest is forgotten, nothing is created or destroyed"
    );
    h.apply();
    assert_eq!(objects(&emu), before, "Authentik was not touched");
    h.assert_plan_empty();
    let v = h.resource_values("fwdauth_protected_host.chrome");
    assert_eq!(v["provider_pk"], before["providers"][0]["pk"]);
    assert_eq!(v["application_uuid"], before["applications"][0]["pk"]);
    assert_eq!(v["outpost"], EMBEDDED_OUTPOST);

    // Migration done: the blocks and the goauthentik provider go.
    h.config(&format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}
{host}"#
    ));
    h.assert_plan_empty();
    let state = h.state_json();
    let left: Vec<&str> = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["address"].as_str().unwrap())
        .collect();
    assert_eq!(left, vec!["fwdauth_protected_host.chrome"]);
    // The host owns the objects now: a change goes through it.
    h.config(&format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}
{}"#,
        host.replace(r#"["vbarzin", "emo"]"#, r#"["vbarzin"]"#)
    ));
    h.apply();
    let after = objects(&emu);
    assert_eq!(
        count(&after, "bindings"),
        1,
        "emo's binding went with the change"
    );
    assert_eq!(after["bindings"][0]["user"], vbarzin);
}

#[test]
fn moves_the_host_cannot_take_are_refused_with_the_fix() {
    let emu = Emulator::start();
    let flow = emu.with(|i| {
        (
            i.store
                .get(
                    "flows/instances",
                    "default-provider-authorization-implicit-consent",
                )
                .unwrap()["pk"]
                .clone(),
            i.store
                .get("flows/instances", "default-provider-invalidation-flow")
                .unwrap()["pk"]
                .clone(),
        )
    });
    let h = common::harness(&emu)
        .with_provider(goauthentik::SOURCE, goauthentik::GoAuthentik::default());
    let providers = format!(
        r#"terraform {{
  required_providers {{
    fwdauth   = {{ source = "{SOURCE}" }}
    authentik = {{ source = "goauthentik/authentik" }}
  }}
}}
provider "authentik" {{
  url   = "{url}"
  token = "{DEFAULT_TOKEN}"
}}
"#,
        url = emu.url()
    );
    h.config(&format!(
        r#"{providers}
resource "authentik_provider_proxy" "wiki" {{
  name               = "wiki"
  external_host      = "https://wiki.example.com"
  mode               = "forward_single"
  authorization_flow = {}
  invalidation_flow  = {}
}}
resource "authentik_application" "bare" {{
  name = "bare"
  slug = "bare"
}}
resource "authentik_provider_proxy" "one" {{
  name               = "one"
  external_host      = "https://one.example.com"
  mode               = "forward_single"
  authorization_flow = {0}
  invalidation_flow  = {1}
}}
resource "authentik_application" "one" {{
  name              = "one"
  slug              = "one"
  protocol_provider = authentik_provider_proxy.one.id
}}
resource "authentik_provider_proxy" "two" {{
  name               = "two"
  external_host      = "https://two.example.com"
  mode               = "forward_single"
  authorization_flow = {0}
  invalidation_flow  = {1}
}}
resource "authentik_application" "two" {{
  name              = "two"
  slug              = "two"
  protocol_provider = authentik_provider_proxy.two.id
}}
"#,
        flow.0, flow.1
    ));
    h.apply();
    let host = |name: &str| {
        format!(
            "resource \"fwdauth_protected_host\" \"{name}\" {{\n  slug = \"{name}\"\n  name = \"{name}\"\n  external_host = \"https://{name}.example.com\"\n}}\n"
        )
    };
    // Why a host takes one application and `removed` for the rest:
    // Terraform 1.11 refuses a second `moved` into the same address, even
    // when the provider would take either source.
    h.config(&format!(
        "{providers}{}moved {{\n  from = authentik_application.one\n  to   = fwdauth_protected_host.target\n}}\nmoved {{\n  from = authentik_application.two\n  to   = fwdauth_protected_host.target\n}}\n",
        host("target")
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert!(!out.success());
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("Ambiguous move statements")
            && text.contains("Each resource can have moved from only one source resource"),
        "{text}"
    );
    for (from, expect) in [
        (
            "authentik_provider_proxy.wiki",
            "move the host's authentik_application onto fwdauth_protected_host, and drop this authentik_provider_proxy from state with a `removed` block",
        ),
        (
            "authentik_application.bare",
            "application \"bare\" has no protocol_provider in state",
        ),
    ] {
        h.config(&format!(
            "{providers}{}moved {{\n  from = {from}\n  to   = fwdauth_protected_host.target\n}}\n",
            host("target")
        ));
        let out = h.run(&["plan", "-no-color"]);
        assert!(!out.success(), "{from}: {}", out.combined());
        let text = out
            .combined()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            text.contains("Cannot move to fwdauth_protected_host") && text.contains(expect),
            "{from}: {text}"
        );
    }
}
