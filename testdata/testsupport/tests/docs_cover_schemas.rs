//! Every resource and data source in `schemas/*.json` has a registry-style
//! docs page, and every provider has a schema file: the docs can never fall
//! behind the code (the schema files themselves are checked against
//! `terraform providers schema -json` by each provider's own tests).

use std::path::{Path, PathBuf};

const PROVIDERS: [&str; 3] = [
    "authentik-forward-auth",
    "goldmane-edges",
    "forgejo-retention",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A page may be named with or without the provider prefix
/// (`goldmane_edges.md` or `edges.md`), as the Terraform registry allows.
fn page_exists(dir: &Path, full_name: &str) -> bool {
    let short = full_name
        .split_once('_')
        .map(|(_, rest)| rest)
        .unwrap_or(full_name);
    [full_name, short]
        .iter()
        .any(|n| dir.join(format!("{n}.md")).is_file())
}

#[test]
fn every_schema_entry_has_a_docs_page() {
    let root = repo_root();
    let mut missing = Vec::new();
    for provider in PROVIDERS {
        let schema_path = root.join("schemas").join(format!("{provider}.json"));
        let text = std::fs::read_to_string(&schema_path)
            .unwrap_or_else(|e| panic!("{} is missing: {e}", schema_path.display()));
        let json: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", schema_path.display()));
        let address = format!("registry.terraform.io/homelab/{provider}");
        let schemas = &json["provider_schemas"][&address];
        assert!(
            schemas.is_object(),
            "{} has no entry for {address}",
            schema_path.display()
        );
        let docs = root.join("docs").join(provider);
        assert!(
            docs.join("index.md").is_file(),
            "docs/{provider}/index.md is missing"
        );
        for (kind, dir) in [
            ("resource_schemas", "resources"),
            ("data_source_schemas", "data-sources"),
        ] {
            let names = schemas[kind]
                .as_object()
                .map(|m| m.keys().cloned().collect::<Vec<_>>());
            for name in names.unwrap_or_default() {
                if !page_exists(&docs.join(dir), &name) {
                    missing.push(format!("docs/{provider}/{dir}/{name}.md"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "docs pages missing for: {missing:#?}");
}
