//! Driver of `bench/forgejo.sh`: 500 multi-arch images (index + 2 platform
//! images + attestation, each a tag) and 500 more tags on existing images,
//! = 10,000 package versions, then the provider's read path (what a plan
//! does) timed end to end against the emulator over HTTP.

use std::time::Instant;

use forgejo_emulator::{Emulator, Manifest, OCI_INDEX, OCI_MANIFEST};
use terraform_provider_forgejo_retention::client::{Client, Options};
use terraform_provider_forgejo_retention::graph::{Policy, decide};
use terraform_provider_forgejo_retention::registry_graph::graphs;

fn main() {
    let emu = Emulator::new().token("t", "homelab", &["all"]);
    let mut tags = 0;
    for i in 0..500 {
        let m = Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![
                Manifest::Image {
                    seed: format!("a{i}"),
                    media_type: OCI_MANIFEST,
                },
                Manifest::Image {
                    seed: format!("b{i}"),
                    media_type: OCI_MANIFEST,
                },
                Manifest::Attestation {
                    seed: format!("c{i}"),
                },
            ],
        };
        let t = format!("2026-{:02}-{:02}T00:00:00Z", 1 + i / 28 % 12, 1 + i % 28);
        emu.push("homelab", "app", &format!("sha-{i:05}"), &m, &t);
        tags += 1;
        // 15 more tags per image on average over the run: version-like and branch tags.
        for k in 0..16 {
            if emu.versions("homelab").len() >= 10_000 {
                break;
            }
            emu.push("homelab", "app", &format!("v{i}.{k}"), &m, &t);
            tags += 1;
        }
    }
    let versions = emu.versions("homelab").len();
    let url = emu.spawn(0);
    let options = Options {
        retries: 0,
        ..Options::default()
    };
    let client = Client::new(&url, "t", &options).expect("client");
    let before = emu.requests().len();
    let started = Instant::now();
    let graphs = graphs(&client, "homelab", Some("app")).expect("graphs");
    terraform_provider_forgejo_retention::permission::check(&client, "homelab")
        .expect("write check");
    let policy = Policy {
        keep_last: 10,
        always_keep: ["latest".to_string()].into(),
        keep_patterns: vec![regex::Regex::new("(?i)cache").unwrap()],
        delete_patterns: Vec::new(),
        min_age_secs: 0,
        protected: Default::default(),
    };
    let d = decide(&graphs[0], &policy, 1_900_000_000);
    let elapsed = started.elapsed().as_secs_f64();
    let calls = emu.requests().len() - before;
    // List pages + one manifest per tag + the write check.
    let minimum = versions.div_ceil(50) + tags + 1;
    println!(
        "{versions} versions, {tags} tags, 500 images: {calls} API calls (minimum {minimum}), {elapsed:.2} s; {} candidates",
        d.candidates.len()
    );
    println!(
        "BENCH|forgejo|retention plan over {versions} versions: API calls|{calls}|{minimum}|{:.2}|= 1.00x",
        calls as f64 / minimum as f64
    );
    println!(
        "BENCH|forgejo|retention plan over {versions} versions: wall time (s)|{elapsed:.2}|-|-|<= 2 s"
    );
}
