//! The provider of docs/writing-a-provider.md (examples/service_provider.rs)
//! through the REAL terraform binary: what the page says it does, it does.

#[path = "../examples/service_provider.rs"]
mod service_provider;

use service_provider::DemoProvider;
use tfplugin::testing::Harness;

const HEADER: &str = r#"terraform {
  required_providers {
    demo = { source = "homelab/demo" }
  }
}
provider "demo" { region = "eu" }
"#;

fn service(body: &str) -> String {
    format!("{HEADER}\nresource \"demo_service\" \"web\" {{\n{body}\n}}\n")
}

#[test]
fn validators_name_the_attribute_at_any_depth() {
    let h = Harness::new("homelab/demo", DemoProvider::default());
    h.config(&service(
        r#"  host     = "-bad-"
  protocol = "sctp"
  timeout  = "1h30m"
  tags     = ["ok", ""]
  ports    = [{ number = 443 }, { number = 70000 }]"#,
    ));
    let out = h.run(&["validate", "-no-color"]);
    assert_ne!(out.status, 0);
    let err = out.combined();
    for want in [
        "Invalid host",
        "host \"-bad-\" is not an RFC 1123 host name",
        "Invalid protocol",
        "protocol \"sctp\" is not one of tcp, udp",
        "Invalid timeout",
        "\"1h30m\" is not a duration",
        "Invalid tags",
        "tags must not be empty",
        "Invalid number",
        "number 70000 is not a whole number in 1-65535",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Terraform shows the configuration line a top-level path points at
    // (a path into a list of objects it shows at the resource).
    assert!(err.contains("9:   host     = \"-bad-\""), "{err}");
}

#[test]
fn unknown_values_wait_for_their_value_and_bad_providers_config_fails() {
    let h = Harness::new("homelab/demo", DemoProvider::default());
    h.config(&format!(
        "{}\nresource \"demo_service\" \"a\" {{ host = \"a.example\" }}\nresource \"demo_service\" \"b\" {{\n  host     = \"b.example\"\n  protocol = demo_service.a.id\n}}\n",
        HEADER.replace("\"eu\"", "\"mars\"")
    ));
    let out = h.run(&["plan", "-no-color"]);
    assert_ne!(out.status, 0);
    let err = out.combined();
    assert!(
        err.contains("region \"mars\" is not one of eu, us"),
        "{err}"
    );
    // With a valid region, the unknown protocol passes validation; at apply
    // it is known ("eu-0") and refused before anything else happens.
    h.config(&format!(
        "{HEADER}\nresource \"demo_service\" \"a\" {{ host = \"a.example\" }}\nresource \"demo_service\" \"b\" {{\n  host     = \"b.example\"\n  protocol = demo_service.a.id\n}}\n"
    ));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(
        plan.success(),
        "an unknown value waits: {}",
        plan.combined()
    );
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert_ne!(out.status, 0);
    assert!(
        out.combined()
            .contains("protocol \"eu-0\" is not one of tcp, udp"),
        "{}",
        out.combined()
    );
}

#[test]
fn defaults_state_for_unknown_and_nested_requires_replace() {
    let p = DemoProvider::default();
    let remote = p.remote.clone();
    let h = Harness::new("homelab/demo", p);
    let ports = |n: u16, label: &str| {
        service(&format!(
            "  host  = \"web.example\"\n  ports = [{{ number = 443 }}, {{ number = {n}, label = \"{label}\" }}]"
        ))
    };
    h.config(&ports(8080, "alt"));
    h.apply();
    let stored = || remote.services.lock().unwrap().clone();
    let first = stored();
    let (id, svc) = first.iter().next().unwrap();
    assert_eq!(svc.get("protocol").as_str(), Some("tcp"), "default applied");
    h.assert_plan_empty();
    // A label inside the list changes in place and keeps the id.
    h.config(&ports(8080, "backup"));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("updated in-place"), "{}", plan.stdout);
    h.apply();
    assert!(stored().contains_key(id), "the id survived the update");
    // A port number inside the list replaces the service.
    h.config(&ports(8081, "backup"));
    let plan = h.run(&["plan", "-no-color"]);
    assert!(plan.stdout.contains("must be replaced"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("# forces replacement"),
        "{}",
        plan.stdout
    );
    h.apply();
    let after = stored();
    assert_eq!(after.len(), 1);
    assert!(!after.contains_key(id), "replaced: a new id");
    h.assert_plan_empty();
}

/// Every Rust snippet of docs/writing-a-provider.md is quoted verbatim from
/// examples/service_provider.rs, which this test file compiles and runs.
#[test]
fn the_page_quotes_the_example_verbatim() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("../../docs/writing-a-provider.md")).unwrap();
    let example = std::fs::read_to_string(root.join("examples/service_provider.rs")).unwrap();
    let snippets: Vec<&str> = page
        .split("```rust\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap())
        .collect();
    assert!(snippets.len() >= 3, "the page shows the example's code");
    for s in snippets {
        assert!(example.contains(s), "not in the example:\n{s}");
    }
}
