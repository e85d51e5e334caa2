//! `retention_policy` and the data sources through the real terraform
//! binary against the Forgejo package-API emulator.

mod common;

use forgejo_emulator::{Emulator, Manifest, OCI_INDEX, OCI_MANIFEST, seed_demo};
use terraform_provider_forgejo_retention::permission::PROBE_PACKAGE;
use tfplugin::testing::Harness;

const TOKEN: &str = "owner-token-s3cr3t";
const READER: &str = "reader-token";

fn setup() -> (Emulator, Harness, String) {
    // The owner's token with the package scope only (listing, /v2 reads and
    // deleting need no other); another user's token that may write packages
    // in general but not homelab's (the seeds' ci-pusher).
    let emu = Emulator::new()
        .token(TOKEN, "homelab", &["write:package"])
        .token(READER, "someone", &["write:package", "read:user"]);
    seed_demo(&emu, "homelab");
    let url = emu.spawn(0);
    let h = common::harness(TOKEN);
    let provider = common::provider(&url, "");
    (emu, h, provider)
}

/// The provider block and a `retention_policy.web` (keep 3) with `extra`.
fn policy(provider: &str, extra: &str) -> String {
    format!(
        r#"{provider}
resource "retention_policy" "web" {{
  owner     = "homelab"
  package   = "web"
  keep_last = 3
  {extra}
}}
output "kept" {{ value = retention_policy.web.kept }}
"#
    )
}

/// [`policy`], an integrity check over the whole owner, and outputs.
fn config(provider: &str, extra: &str) -> String {
    format!(
        r#"{}
data "retention_integrity" "all" {{
  owner = "homelab"
}}
output "candidates" {{ value = retention_policy.web.candidates }}
output "ok" {{ value = data.retention_integrity.all.ok }}
"#,
        policy(provider, extra)
    )
}

#[test]
fn dry_run_reports_then_deletion_keeps_every_kept_image_whole() {
    let (emu, h, p) = setup();
    let before = emu.versions("homelab").len();
    h.config(&config(&p, ""));
    h.apply();
    assert_eq!(
        emu.versions("homelab").len(),
        before,
        "dry_run (the default) deletes nothing"
    );
    let cands = h.output("candidates");
    let versions: Vec<&str> = cands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    // 14 SHA tags, keep the newest 3 by tag; sha-000d is also `latest`.
    assert!(
        versions.contains(&"sha-0000")
            && !versions.contains(&"sha-000d")
            && !versions.contains(&"sha-000b"),
        "{versions:?}"
    );
    assert!(!versions.contains(&"latest") && !versions.contains(&"buildcache"));
    let kept = h.output("kept").to_string();
    assert!(
        kept.contains("always kept") && kept.contains("keep pattern") && kept.contains("newest 3"),
        "{kept}"
    );
    // Untagged children (platform images, attestations) go only with their tags.
    assert!(
        cands
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "untagged")
            .all(|c| !c["referenced_by"].as_array().unwrap().is_empty())
    );
    h.assert_plan_empty();

    h.config(&config(&p, "dry_run = false"));
    h.apply();
    for tag in ["latest", "sha-000d", "sha-000c", "sha-000b", "buildcache"] {
        assert!(emu.has_version("homelab", "web", tag), "{tag} kept");
    }
    assert!(!emu.has_version("homelab", "web", "sha-0000"));
    // State keeps what this run deleted (the applied plan); the refresh that
    // follows reads the registry again: nothing left to delete, nothing broken.
    h.refresh();
    assert_eq!(
        h.output("ok"),
        serde_json::json!(true),
        "no index was orphaned"
    );
    assert_eq!(h.output("candidates"), serde_json::json!([]));
    h.assert_plan_empty();
    assert!(
        !h.raw_state().contains(TOKEN) && !h.provider_logs().contains(TOKEN),
        "the token never reaches state or logs"
    );
}

#[test]
fn a_token_that_cannot_delete_fails_the_plan() {
    let (_emu, h, p) = setup();
    h.env("TF_VAR_token", READER);
    h.config(&config(&p, "dry_run = false"));
    let out = h.run(&["plan", "-no-color"]);
    assert_ne!(out.status, 0);
    assert!(
        out.combined().contains("Token cannot delete") && out.combined().contains("403"),
        "{}",
        out.combined()
    );
}

#[test]
fn a_preexisting_orphan_blocks_deletion() {
    let (emu, h, p) = setup();
    // Break `latest` the way the 2026-06-10 incident did: delete one of its
    // children (the arm64 image) behind the API's back.
    let latest = emu
        .versions("homelab")
        .into_iter()
        .find(|v| v.version == "latest")
        .unwrap()
        .digest;
    let index: serde_json::Value =
        serde_json::from_str(&emu.store.lock().unwrap().manifests[&latest]).unwrap();
    let child = index["manifests"][1]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    emu.remove_version("homelab", "web", &child);
    let before = emu.versions("homelab").len();
    h.config(&config(&p, "dry_run = false"));
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    let text = out.combined();
    assert!(!out.success(), "deletion must be blocked:\n{text}");
    assert!(
        text.contains("Registry already has orphaned indexes") && text.contains(&child),
        "the error names the missing child:\n{text}"
    );
    assert_eq!(emu.versions("homelab").len(), before, "nothing deleted");
}

/// A registry serving image indexes nested deeper than the provider reads
/// (`MAX_INDEX_DEPTH`, 8): the run fails naming the index past the limit,
/// and nothing is deleted although candidates exist, because what the
/// unread indexes reference is unknown.
#[test]
fn indexes_nested_past_the_depth_limit_stop_the_run_before_any_deletion() {
    let (emu, h, p) = setup();
    let image = |seed: &str| Manifest::Image {
        seed: seed.into(),
        media_type: OCI_MANIFEST,
    };
    // Ten indexes, each naming the next (and an image of its own).
    let mut deep = Manifest::Index {
        media_type: OCI_INDEX,
        children: vec![image("bottom")],
    };
    let mut chain = vec![deep.render().digest];
    for level in 0..9 {
        deep = Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![deep, image(&format!("level-{level}"))],
        };
        chain.push(deep.render().digest);
    }
    emu.push("homelab", "web", "nested", &deep, "2026-11-30T00:00:00Z");
    // chain[9] is the tag's own index (level 1), so chain[0] is level 10
    // and chain[1] the first past the limit, at level 9.
    let past_limit = &chain[1];
    let before = emu.versions("homelab").len();
    h.config(&config(&p, "dry_run = false"));
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    let text = out.combined();
    assert!(!out.success(), "the run must fail:\n{text}");
    // terraform wraps long diagnostics: compare with single spaces.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "homelab/web:nested: index {past_limit} is nested 9 levels deep, past the limit of 8"
        )),
        "the error names the tag and the index past the limit:\n{text}"
    );
    assert_eq!(emu.versions("homelab").len(), before, "nothing deleted");
    assert!(
        !emu.requests().iter().any(|r| r.starts_with("DELETE ")),
        "no deletion was even tried"
    );
}

#[test]
fn pagination_and_exact_names() {
    let (emu, h, p) = setup();
    // Names that contain "web" as a substring, and > 50 versions in all.
    for i in 0..40 {
        let m = Manifest::Image {
            seed: format!("x{i}"),
            media_type: OCI_MANIFEST,
        };
        emu.push(
            "homelab",
            "web-cache-warmer",
            &format!("v{i}"),
            &m,
            "2026-01-01T00:00:00Z",
        );
        emu.push(
            "homelab",
            "webhooks",
            &format!("v{i}"),
            &m,
            "2026-01-01T00:00:00Z",
        );
    }
    let idx = Manifest::Index {
        media_type: OCI_INDEX,
        children: vec![Manifest::Image {
            seed: "z".into(),
            media_type: OCI_MANIFEST,
        }],
    };
    emu.push("homelab", "web", "sha-ffff", &idx, "2026-11-01T00:00:00Z");
    assert!(emu.versions("homelab").len() > 100);
    h.config(&config(&p, "dry_run = false"));
    h.apply();
    assert_eq!(
        emu.versions("homelab")
            .iter()
            .filter(|v| v.name != "web")
            .count(),
        80,
        "other packages untouched"
    );
    assert!(emu.has_version("homelab", "web", "sha-ffff"));
    let lists = emu
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/packages"))
        .count();
    assert!(lists >= 3, "all pages read ({lists} list requests)");
}

/// A `terraform plan` refreshes the policy and then plans it in one walk:
/// both must be served by one registry read, and the next terraform run
/// must read the registry again (a snapshot never outlives its walk).
#[test]
fn one_plan_reads_the_registry_once_and_the_next_plan_reads_it_again() {
    let (emu, h, p) = setup();
    h.config(&policy(&p, ""));
    h.apply();
    let sorted_since = |from: usize| {
        let mut r: Vec<String> = emu.requests()[from..].to_vec();
        r.sort();
        r
    };
    // One registry read: what a refresh-only run (ReadResource alone) asks.
    let before = emu.requests().len();
    h.refresh();
    let one_read = sorted_since(before);
    assert!(
        one_read.iter().any(|r| r.contains(" /v2/")),
        "a read fetches manifests: {one_read:#?}"
    );
    // A plan (ReadResource, then PlanResourceChange with its write check)
    // asks the same and only adds the write check.
    let before = emu.requests().len();
    h.assert_plan_empty();
    let plan: Vec<String> = sorted_since(before)
        .into_iter()
        .filter(|r| !r.contains(PROBE_PACKAGE))
        .collect();
    assert_eq!(plan, one_read, "a plan reads the registry exactly once");

    // A new tag pushed between two runs shows in the next plan.
    let m = Manifest::Image {
        seed: "fresh".into(),
        media_type: OCI_MANIFEST,
    };
    emu.push("homelab", "web", "sha-new1", &m, "2026-11-30T00:00:00Z");
    h.refresh();
    let kept = h.output("kept").to_string();
    assert!(
        kept.contains("sha-new1"),
        "the next run saw the new tag: {kept}"
    );
}

#[test]
fn schema_file_matches_terraform() {
    let (_emu, h, p) = setup();
    h.config(&config(&p, ""));
    let doc = h.providers_schema_document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/forgejo-retention.json");
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var("UPDATE_SCHEMAS").is_ok() {
        std::fs::write(&path, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        on_disk, text,
        "schemas/forgejo-retention.json is stale: run with UPDATE_SCHEMAS=1"
    );
}
