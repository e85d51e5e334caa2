//! Settings real Authentik refuses fail `fwdauth_protected_host` at plan,
//! naming the attribute, before any request: the slug pattern
//! (`ApplicationRequest.slug`, `^[-a-zA-Z0-9_]+$`), a blank name, an
//! `access_token_validity` that `timedelta_string_validator`
//! (`authentik/lib/utils/time.py`) rejects, and mode `proxy`, which needs
//! an `internal_host` (`ProxyProviderSerializer.validate`). Each is also
//! what the emulator refuses (see its contract test).

mod common;

use authentik_emulator::Emulator;
use common::SOURCE;

fn host(attr: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

resource "fwdauth_protected_host" "x" {{
  slug          = "x"
  name          = "X"
  external_host = "https://x.example.com"
  {attr}
}}
"#
    )
}

#[test]
fn settings_authentik_refuses_fail_at_plan() {
    let emu = Emulator::start();
    let h = common::harness(&emu);
    let cases: &[(&str, &str, &str)] = &[
        // (what, attribute line, text the diagnostic must carry)
        ("slug with a dot", r#"slug = "a.b""#, "Invalid slug"),
        ("slug with a space", r#"slug = "a b""#, "Invalid slug"),
        ("slug with non-ASCII", r#"slug = "grafaña""#, "Invalid slug"),
        ("empty slug", r#"slug = """#, "Invalid slug"),
        ("empty name", r#"name = """#, "Invalid name"),
        (
            "empty validity",
            r#"access_token_validity = """#,
            "Invalid access_token_validity",
        ),
        (
            "validity without '='",
            r#"access_token_validity = "24h""#,
            "Invalid access_token_validity",
        ),
        (
            "validity with no known unit",
            r#"access_token_validity = "hour=1""#,
            "no known unit",
        ),
        (
            "validity not a number",
            r#"access_token_validity = "hours=x""#,
            "is not a number",
        ),
        (
            "validity nan",
            r#"access_token_validity = "hours=nan""#,
            "Invalid access_token_validity",
        ),
        (
            "validity overflowing",
            r#"access_token_validity = "days=1e12""#,
            "beyond what Authentik can store",
        ),
        (
            "validity with a trailing ';'",
            r#"access_token_validity = "hours=1;""#,
            "Invalid access_token_validity",
        ),
        ("proxy mode", r#"mode = "proxy""#, "internal_host"),
        (
            "name with a trailing space",
            r#"name = "X ""#,
            "White space around name",
        ),
        (
            "skip_path_regex ending in a newline",
            r#"skip_path_regex = "^/public$\n""#,
            "White space around skip_path_regex",
        ),
        (
            "validity with a leading space",
            r#"access_token_validity = " hours=1""#,
            "White space around access_token_validity",
        ),
        (
            "external_host with a space",
            r#"external_host = "https://exa mple.com""#,
            "not a URL Authentik accepts",
        ),
        (
            "external_host without a host",
            r#"external_host = "https://""#,
            "not a URL Authentik accepts",
        ),
        (
            "external_host with a 6-digit port",
            r#"external_host = "https://x.example.com:123456""#,
            "not a URL Authentik accepts",
        ),
    ];
    for (what, attr, want) in cases {
        // slug and name are set in `host`: the case's line takes the
        // place of the default one (kept as a comment).
        let hcl = if let Some(name) = ["slug", "name", "external_host"]
            .into_iter()
            .find(|n| attr.starts_with(&format!("{n} ")))
        {
            host("").replace(&format!("  {name} "), &format!("  {attr}\n  # replaced: "))
        } else {
            host(attr)
        };
        h.config(&hcl);
        let out = h.run(&["plan", "-no-color"]);
        let text = out.combined();
        assert!(!out.success(), "{what}: plan passed:\n{text}");
        assert!(text.contains(want), "{what}: wanted {want:?}:\n{text}");
        let attr_name = attr.split_whitespace().next().unwrap();
        assert!(
            text.contains("with fwdauth_protected_host.x,") && text.contains(attr_name),
            "{what}: the diagnostic must name {attr_name}:\n{text}"
        );
    }
    emu.with(|i| assert!(i.store.all("providers/proxy").is_empty()));
    assert_eq!(emu.request_counts().1, 0, "no write was made");
    // Forms Authentik accepts pass.
    for ok in [
        r#"access_token_validity = "HOURS=1;minutes=30""#,
        r#"slug = "ok_-9""#,
    ] {
        let hcl = if ok.starts_with("slug") {
            host("").replace("  slug ", &format!("  {ok}\n  # replaced: "))
        } else {
            host(ok)
        };
        h.config(&hcl);
        let out = h.run(&["plan", "-no-color"]);
        assert!(out.success(), "{ok}: {}", out.combined());
    }

    // fwdauth_domain_restriction's bindings carry binding_order as
    // PolicyBindingRequest.order, an int32; its name is the policy's, kept
    // stripped of surrounding white space.
    for (name, order, ok, want) in [
        ("r", "2147483648", false, "Invalid binding_order"),
        ("r", "-2147483649", false, "Invalid binding_order"),
        ("r", "1.5", false, "Invalid binding_order"),
        ("r", "-2147483648", true, ""),
        ("r ", "0", false, "Invalid name"),
        ("", "0", false, "Invalid name"),
    ] {
        h.config(&format!(
            r#"terraform {{
  required_providers {{
    fwdauth = {{ source = "{SOURCE}" }}
  }}
}}

resource "fwdauth_domain_restriction" "r" {{
  name          = "{name}"
  applications  = ["nothing-yet"]
  binding_order = {order}
  rules         = [{{ host = "x.example.com", users = ["akadmin"] }}]
}}
"#
        ));
        let out = h.run(&["validate", "-no-color"]);
        let text = out.combined();
        assert_eq!(
            out.success(),
            ok,
            "name {name:?}, binding_order {order}:\n{text}"
        );
        if !ok {
            let attr = if want == "Invalid name" {
                "name"
            } else {
                "binding_order"
            };
            assert!(text.contains(want) && text.contains(attr), "{text}");
        }
    }
}
