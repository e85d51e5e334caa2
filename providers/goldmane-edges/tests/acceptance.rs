//! Acceptance tests: the real `terraform` binary drives the in-process
//! provider (SDK harness, reattach mode) against a real PostgreSQL seeded with
//! both table shapes, the `'-'` sentinel, self-edges, all four actions and
//! hostile namespace strings.

mod common;

use goldmane_edges::GoldmaneProvider;
use serde_json::Value as Json;
use testsupport::{PG_SUPERUSER_PASSWORD, Postgres};
use tfplugin::testing::Harness;

const SOURCE: &str = "registry.terraform.io/homelab/goldmane-edges";

/// A harness whose provider reaches `db` as the superuser; the password comes
/// from the provider's environment (PGPASSWORD), as in production.
fn harness(pg: &Postgres, db: &str, password: &str) -> Harness {
    let provider = GoldmaneProvider::with_env([
        ("PGHOST", "127.0.0.1".to_string()),
        ("PGPORT", pg.port().to_string()),
        ("PGDATABASE", db.to_string()),
        ("PGUSER", "postgres".to_string()),
        ("PGPASSWORD", password.to_string()),
        ("PGSSLMODE", "disable".to_string()),
    ]);
    Harness::new(SOURCE, provider)
}

fn config(body: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    goldmane = {{ source = "{SOURCE}" }}
  }}
}}

provider "goldmane" {{}}

{body}"#
    )
}

/// Output `name` from `terraform show -json` state.
fn output(h: &Harness, name: &str) -> Json {
    let state = h.state_json();
    state["values"]["outputs"][name]["value"].clone()
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

const DATA_SOURCES: &str = r#"
data "goldmane_egress_allowlist" "app" {
  namespace = "app"
}
data "goldmane_egress_allowlist" "app_recent" {
  namespace   = "app"
  seen_within = "30d"
  exclude     = ["app"]
}
data "goldmane_egress_allowlist" "app_deny" {
  namespace       = "app"
  action          = "deny"
  min_observation = "7d"
}
data "goldmane_egress_matrix" "all" {}
data "goldmane_edges" "into_db" {
  dst = "db"
}
data "goldmane_ingress_sources" "app" {
  namespace = "app"
}
data "goldmane_peers" "app" {
  namespace = "app"
  action    = "allow"
}
data "goldmane_denied_edges" "all" {}
data "goldmane_new_edges" "today" {}
data "goldmane_trail_status" "trail" {}

output "allow" { value = data.goldmane_egress_allowlist.app.dst_namespaces }
output "allow_action" { value = data.goldmane_egress_allowlist.app.action }
output "allow_recent" { value = data.goldmane_egress_allowlist.app_recent.dst_namespaces }
output "deny" { value = data.goldmane_egress_allowlist.app_deny.dst_namespaces }
output "matrix" { value = data.goldmane_egress_matrix.all.allowed }
output "into_db" { value = [for e in data.goldmane_edges.into_db.edges : "${e.src_ns}>${e.dst_ns}:${e.action}:${e.flow_count}:${jsonencode(e.dst_ports)}"] }
output "ingress" { value = data.goldmane_ingress_sources.app.src_namespaces }
output "peers" { value = data.goldmane_peers.app.peer_namespaces }
output "denied" { value = [for e in data.goldmane_denied_edges.all.edges : "${e.src_ns}>${e.dst_ns}"] }
output "new" { value = [for e in data.goldmane_new_edges.today.edges : "${e.src_ns}>${e.dst_ns}"] }
output "shape" { value = data.goldmane_trail_status.trail.table_shape }
output "rows" { value = data.goldmane_trail_status.trail.row_count }
output "external" { value = data.goldmane_trail_status.trail.external_row_count }
"#;

#[test]
fn data_sources_on_the_narrow_schema() {
    let pg = common::seeded();
    let h = harness(&pg, common::NARROW_DB, PG_SUPERUSER_PASSWORD);
    h.config(&config(DATA_SOURCES));
    h.apply();
    assert_eq!(strings(&output(&h, "allow")), ["app", "db", "old"]);
    assert_eq!(output(&h, "allow_action"), "allow");
    assert_eq!(strings(&output(&h, "allow_recent")), ["db"]);
    assert_eq!(strings(&output(&h, "deny")), ["blocked", "db"]);
    let matrix = output(&h, "matrix");
    assert_eq!(
        matrix.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["app", "web"]
    );
    assert_eq!(strings(&matrix["app"]), ["app", "db", "old"]);
    assert_eq!(
        strings(&output(&h, "into_db")),
        [
            "web>db:allow:50:[]",
            "app>db:deny:3:[]",
            "app>db:allow:100:[]"
        ]
    );
    assert_eq!(strings(&output(&h, "ingress")), ["app", "web"]);
    assert_eq!(strings(&output(&h, "peers")), ["app", "db", "old", "web"]);
    assert_eq!(strings(&output(&h, "denied")), ["app>db", "app>blocked"]);
    assert_eq!(strings(&output(&h, "new")), ["web>app"]);
    assert_eq!(output(&h, "shape"), "narrow");
    assert_eq!(output(&h, "rows"), 16);
    assert_eq!(output(&h, "external"), 2);
    // Deterministic: a second plan has nothing to change.
    h.assert_plan_empty();
    assert_eq!(
        pg.psql(common::NARROW_DB, "SELECT count(*) FROM edge")
            .trim(),
        "16"
    );
}

#[test]
fn data_sources_on_the_widened_schema() {
    let pg = common::seeded();
    let h = harness(&pg, common::WIDE_DB, PG_SUPERUSER_PASSWORD);
    h.config(&config(DATA_SOURCES));
    h.apply();
    assert_eq!(strings(&output(&h, "allow")), ["app", "db"]);
    assert_eq!(
        strings(&output(&h, "into_db")),
        ["app>db:deny:2:[22]", "app>db:allow:157:[5432,9187]"]
    );
    assert_eq!(output(&h, "shape"), "widened");
    assert_eq!(output(&h, "external"), 1);
    h.assert_plan_empty();
}

/// Runs `terraform plan` and returns its combined output; asserts it failed.
fn failing_plan(h: &Harness) -> String {
    let out = h.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.status, 0, "plan should fail:\n{}", out.stdout);
    format!("{}\n{}", out.stdout, out.stderr)
}

#[test]
fn invalid_inputs_fail_at_plan_time_with_the_attribute() {
    let pg = common::seeded();
    let h = harness(&pg, common::NARROW_DB, PG_SUPERUSER_PASSWORD);
    for (attr, value, summary) in [
        (
            "namespace",
            "a'; DROP TABLE edge;--",
            "Invalid namespace name",
        ),
        ("namespace", "ünïcode", "Invalid namespace name"),
        ("namespace", "Global", "Invalid namespace name"),
        ("action", "drop", "Invalid action"),
        ("seen_within", "1y", "Invalid duration"),
    ] {
        let extra = if attr == "namespace" {
            String::new()
        } else {
            "  namespace = \"app\"\n".to_string()
        };
        h.config(&config(&format!(
            "data \"goldmane_egress_allowlist\" \"x\" {{\n{extra}  {attr} = {value:?}\n}}\n"
        )));
        let out = failing_plan(&h);
        assert!(out.contains(summary), "{attr}={value}: {out}");
        // Terraform prints the attribute's source line when the diagnostic
        // carries its path.
        assert!(out.contains(&format!("{attr} = ")), "{attr}={value}: {out}");
    }
    h.config(&config(
        "data \"goldmane_edges\" \"x\" {\n  first_seen_since = \"yesterday\"\n}\n",
    ));
    let out = failing_plan(&h);
    assert!(out.contains("Invalid time bound"), "{out}");
    assert!(out.contains("first_seen_since = "), "{out}");
    h.config(&config(
        "resource \"goldmane_allowlist_snapshot\" \"x\" {\n  namespace = \"app\"\n  approved = [\"db\", \"a;b\"]\n}\n",
    ));
    let out = failing_plan(&h);
    assert!(out.contains("Invalid namespace name"), "{out}");
    assert!(out.contains("approved = "), "{out}");
    assert_eq!(
        pg.psql(common::NARROW_DB, "SELECT count(*) FROM edge")
            .trim(),
        "16"
    );
}

#[test]
fn min_observation_refuses_a_young_trail() {
    let pg = common::seeded();
    let h = harness(&pg, common::NARROW_DB, PG_SUPERUSER_PASSWORD);
    h.config(&config(
        "data \"goldmane_egress_allowlist\" \"x\" {\n  namespace = \"app\"\n  min_observation = \"90d\"\n}\n",
    ));
    let out = failing_plan(&h);
    assert!(out.contains("younger than min_observation"), "{out}");
    assert!(out.contains("observed for only 60d"), "{out}");
    assert!(out.contains("min_observation = "), "{out}");
}

const SNAPSHOT: &str = r#"
resource "goldmane_allowlist_snapshot" "app" {
  namespace = "app"
  approved  = ["db", "gone"]
}
output "observed" { value = goldmane_allowlist_snapshot.app.observed }
output "unapproved_new" { value = goldmane_allowlist_snapshot.app.unapproved_new }
output "stale" { value = goldmane_allowlist_snapshot.app.stale }
output "approved" { value = goldmane_allowlist_snapshot.app.approved }
"#;

#[test]
fn allowlist_snapshot_shows_new_edges_without_widening() {
    let pg = common::seeded();
    let h = harness(&pg, common::NARROW_DB, PG_SUPERUSER_PASSWORD);
    h.config(&config(SNAPSHOT));
    h.apply();
    assert_eq!(strings(&output(&h, "observed")), ["app", "db", "old"]);
    assert_eq!(strings(&output(&h, "unapproved_new")), ["app", "old"]);
    // `old` was last seen 45 days ago, `gone` never: with the default 30d.
    assert_eq!(strings(&output(&h, "stale")), ["gone"]);
    h.assert_plan_empty();
    h.refresh();
    h.assert_plan_empty();

    // A new edge appears in the trail.
    pg.psql(
        common::NARROW_DB,
        "INSERT INTO edge VALUES ('app', 'newcomer', 'allow', now(), now(), 1)",
    );
    let plan = h.plan_json();
    let change = plan["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "goldmane_allowlist_snapshot.app")
        .expect("the snapshot is in the plan");
    assert_eq!(change["change"]["actions"], serde_json::json!(["update"]));
    assert_eq!(
        change["change"]["after"]["unapproved_new"],
        serde_json::json!(["app", "newcomer", "old"])
    );
    assert_eq!(
        change["change"]["after"]["approved"],
        serde_json::json!(["db", "gone"]),
        "the approved set is never widened by the trail"
    );
    h.apply();
    assert_eq!(strings(&output(&h, "approved")), ["db", "gone"]);
    h.assert_plan_empty();

    // The trail moving between plan and apply of a saved plan stops the
    // apply (the documented limitation) without changing the resource.
    let before = h.resource_values("goldmane_allowlist_snapshot.app");
    pg.psql(
        common::NARROW_DB,
        "INSERT INTO edge VALUES ('app', 'latecomer', 'allow', now(), now(), 1)",
    );
    let planned = h.run(&["plan", "-out=race.tfplan", "-input=false", "-no-color"]);
    assert_eq!(planned.status, 0, "{}", planned.combined());
    pg.psql(
        common::NARROW_DB,
        "INSERT INTO edge VALUES ('app', 'racer', 'allow', now(), now(), 1)",
    );
    let out = h.run(&["apply", "-input=false", "-no-color", "race.tfplan"]);
    assert_ne!(out.status, 0, "{}", out.combined());
    assert!(
        out.combined().contains("inconsistent final plan"),
        "{}",
        out.combined()
    );
    assert_eq!(h.resource_values("goldmane_allowlist_snapshot.app"), before);
    pg.psql(
        common::NARROW_DB,
        "DELETE FROM edge WHERE dst_ns IN ('latecomer', 'racer')",
    );
    // Terraform did record the planned outputs; one apply settles them.
    h.apply();
    h.assert_plan_empty();

    // A CI gate turns the warning into an error on `approved`.
    h.config(&config(&SNAPSHOT.replace(
        "approved  = [\"db\", \"gone\"]",
        "approved  = [\"db\", \"gone\"]\n  fail_on_unapproved = true",
    )));
    let out = failing_plan(&h);
    assert!(out.contains("Unapproved egress edges"), "{out}");
    assert!(out.contains("app, newcomer, old"), "{out}");

    // Import approves what is observed at that moment.
    h.config(&config(SNAPSHOT));
    let out = h.run(&["state", "rm", "goldmane_allowlist_snapshot.app"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let out = h.import("goldmane_allowlist_snapshot.app", "app/allow");
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    let state = h.state_json();
    let res = state["values"]["root_module"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "goldmane_allowlist_snapshot.app")
        .unwrap()
        .clone();
    assert_eq!(
        res["values"]["approved"],
        serde_json::json!(["app", "db", "newcomer", "old"])
    );
    let out = h.run(&["state", "rm", "goldmane_allowlist_snapshot.app"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let out = h.import("goldmane_allowlist_snapshot.app", "Bad;Name");
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("Invalid import ID"), "{}", out.stderr);
    let out = h.destroy();
    assert_eq!(out.status, 0, "{}", out.stderr);
}

#[test]
fn the_password_never_reaches_state_plan_or_logs() {
    let pg = common::seeded();
    let canary = "Canary-Pw-7f3a9c-goldmane";
    pg.psql(
        "postgres",
        &format!("CREATE ROLE goldmane_edges LOGIN PASSWORD '{canary}'"),
    );
    pg.psql(common::NARROW_DB, "GRANT SELECT ON edge TO goldmane_edges");
    let provider = GoldmaneProvider::with_env([(
        "DATABASE_URL",
        format!(
            "postgres://goldmane_edges:{canary}@127.0.0.1:{}/goldmane_edges?sslmode=disable",
            pg.port()
        ),
    )]);
    let h = Harness::new(SOURCE, provider);
    h.config(&config(&format!("{SNAPSHOT}\n{DATA_SOURCES}")));
    let apply = h.apply();
    let plan = h.run(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    let plan_json = h.plan_json().to_string();
    let show = h.state_json().to_string();
    for (what, text) in [
        ("raw state", h.raw_state()),
        ("apply output", format!("{}{}", apply.stdout, apply.stderr)),
        ("plan output", format!("{}{}", plan.stdout, plan.stderr)),
        ("plan JSON", plan_json),
        ("state JSON", show),
        ("provider logs", h.provider_logs()),
    ] {
        assert!(
            !text.contains(canary),
            "the password leaked into the {what}"
        );
    }

    // A wrong password: the error names the cause, not the password.
    let wrong = "Wrong-Pw-51d2e0";
    let provider = GoldmaneProvider::with_env([(
        "DATABASE_URL",
        format!(
            "postgres://goldmane_edges:{wrong}@127.0.0.1:{}/goldmane_edges?sslmode=disable",
            pg.port()
        ),
    )]);
    let h = Harness::new(SOURCE, provider);
    h.config(&config(DATA_SOURCES));
    let out = h.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.status, 0);
    let all = format!("{}{}{}", out.stdout, out.stderr, h.provider_logs());
    assert!(all.contains("password authentication failed"), "{all}");
    assert!(!all.contains(wrong), "the wrong password leaked: {all}");
}

#[test]
fn vault_static_role_password_stays_out_of_state_and_logs() {
    let pg = common::seeded();
    common::create_owner_role(&pg);
    let bao = testsupport::OpenBao::start();
    common::static_role(&bao, &pg);
    let provider = GoldmaneProvider::with_env([
        ("PGHOST", "127.0.0.1".to_string()),
        ("PGPORT", pg.port().to_string()),
        ("PGSSLMODE", "disable".to_string()),
        ("VAULT_ADDR", bao.addr()),
        ("VAULT_TOKEN", bao.token().to_string()),
    ]);
    let h = Harness::new(SOURCE, provider);
    h.config(&config(&format!("{SNAPSHOT}\n{DATA_SOURCES}")));
    let apply = h.apply();
    assert_eq!(strings(&output(&h, "allow")), ["app", "db", "old"]);
    let password = bao.bao(&[
        "read",
        "-field=password",
        "database/static-creds/pg-goldmane-edges",
    ]);
    let password = password.trim();
    assert!(password.len() >= 8, "OpenBao returned a password");
    let plan = h.run(&["plan", "-input=false", "-no-color"]);
    assert_eq!(plan.status, 0, "{}", plan.stderr);
    let logs = h.provider_logs();
    assert!(logs.contains("password from Vault"), "{logs}");
    for (what, text) in [
        ("raw state", h.raw_state()),
        ("apply output", apply.combined()),
        ("plan output", plan.combined()),
        ("plan JSON", h.plan_json().to_string()),
        ("provider logs", logs),
    ] {
        assert!(
            !text.contains(password),
            "the Vault password leaked into the {what}"
        );
    }
}

#[test]
fn schema_file_matches_terraform_providers_schema() {
    let pg = common::seeded();
    let h = harness(&pg, common::NARROW_DB, PG_SUPERUSER_PASSWORD);
    h.config(&config(""));
    let actual = h.providers_schema_document();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/goldmane-edges.json");
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: Json = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .expect("schemas/goldmane-edges.json (regenerate with UPDATE_SCHEMAS=1)"),
    )
    .unwrap();
    assert_eq!(
        actual, expected,
        "schemas/goldmane-edges.json is out of date: rerun this test with UPDATE_SCHEMAS=1"
    );
}
