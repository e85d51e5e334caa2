//! A large package for the retention fault campaign
//! (`reliability/retention_faults.py`): thousands of versions in seconds.
//! The distinct images are pushed for real (children and blobs, into the
//! fronted registry when there is one), so every index/child relation is
//! served by the registry API as in production; the many extra tags on
//! those images are recorded the way Forgejo records a re-tag (a new tag
//! version of an existing manifest), without pushing the same bytes again.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{DOCKER_LIST, DOCKER_MANIFEST, Emulator, Manifest, OCI_INDEX, OCI_MANIFEST};

/// 2026-01-01T00:00:00Z: every seeded version is older than the campaign.
const BASE: i64 = 1_767_225_600;

/// The `i`th image: mostly buildkit builds (amd64 + arm64 + attestation);
/// every tenth a Docker manifest list sharing its first child with the
/// others; every tenth (offset 4) an index holding a nested index.
fn image(i: usize) -> Manifest {
    let img = |seed: String, media_type| Manifest::Image { seed, media_type };
    match i % 10 {
        9 => Manifest::Index {
            media_type: DOCKER_LIST,
            children: vec![
                img("shared-base".into(), DOCKER_MANIFEST),
                img(format!("unique-{i}"), DOCKER_MANIFEST),
            ],
        },
        4 => Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![
                img(format!("outer-{i}"), OCI_MANIFEST),
                Manifest::Index {
                    media_type: OCI_INDEX,
                    children: vec![
                        img(format!("inner-a-{i}"), OCI_MANIFEST),
                        img(format!("inner-b-{i}"), OCI_MANIFEST),
                    ],
                },
            ],
        },
        _ => Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![
                img(format!("amd64-{i}"), OCI_MANIFEST),
                img(format!("arm64-{i}"), OCI_MANIFEST),
                Manifest::Attestation {
                    seed: format!("att-{i}"),
                },
            ],
        },
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "2026-01-01T00:00:00Z".into())
}

/// Seeds `owner/package` with `images` images (`build-NNNNN`, an hour
/// apart), a stale `latest` on the oldest, a `buildcache` image, and extra
/// tags `vK` spread over the images (each a second after its image's
/// previous tag) until the package holds `versions` versions. Pushes run on
/// `threads` threads. Returns what was seeded, the campaign's oracle:
/// `{"tags": {tag: [digest, created_unix]}, "children": {digest: [child,…]},
/// "versions": n}`.
pub fn seed_retention(
    emu: &Emulator,
    owner: &str,
    package: &str,
    versions: usize,
    images: usize,
    threads: usize,
) -> Value {
    let images = images.max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let pushed: Vec<(usize, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= images {
                            return mine;
                        }
                        let at = rfc3339(BASE + i as i64 * 3600);
                        let d = emu.push(owner, package, &format!("build-{i:05}"), &image(i), &at);
                        mine.push((i, d));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut tags = BTreeMap::new();
    let mut children = BTreeMap::new();
    let mut by_image = vec![String::new(); images];
    for (i, d) in pushed {
        tags.insert(format!("build-{i:05}"), json!([d, BASE + i as i64 * 3600]));
        for r in image(i).render().all() {
            if !r.children.is_empty() {
                let kids: Vec<&str> = r.children.iter().map(|c| c.digest.as_str()).collect();
                children.insert(r.digest.clone(), json!(kids));
            }
        }
        by_image[i] = d;
    }
    let cache = Manifest::Image {
        seed: "cache".into(),
        media_type: OCI_MANIFEST,
    };
    let d = emu.push(
        owner,
        package,
        "buildcache",
        &cache,
        &rfc3339(BASE - 86_400),
    );
    tags.insert("buildcache".into(), json!([d, BASE - 86_400]));
    emu.tag(owner, package, "latest", &by_image[0], &rfc3339(BASE + 1));
    tags.insert("latest".into(), json!([by_image[0], BASE + 1]));
    let count = || {
        emu.store
            .lock()
            .expect("store")
            .versions
            .get(owner)
            .map_or(0, Vec::len)
    };
    let mut k = 0;
    while count() < versions {
        let i = k % images;
        let at = BASE + i as i64 * 3600 + 2 + (k / images) as i64;
        emu.tag(owner, package, &format!("v{k}"), &by_image[i], &rfc3339(at));
        tags.insert(format!("v{k}"), json!([by_image[i], at]));
        k += 1;
    }
    json!({"tags": tags, "children": children, "versions": count()})
}
