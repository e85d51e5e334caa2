//! Over ≥1000 random registry graphs (shared children, nested indexes,
//! random tags, ages and policies): after deleting exactly the candidates,
//! every kept tag still resolves, with everything it references.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use terraform_provider_forgejo_retention::graph::{Package, Policy, closure, decide, limit};

#[derive(Debug, Clone)]
struct Spec {
    /// Per tag: (index?, children picked from the shared pool, nested index?, age).
    tags: Vec<(bool, Vec<usize>, bool, i64)>,
    latest: Option<usize>,
    keep_last: usize,
    min_age: i64,
    max_deletions: usize,
    protect: Option<usize>,
    strays: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec(
            (
                any::<bool>(),
                prop::collection::vec(0usize..12, 1..4),
                any::<bool>(),
                0i64..100,
            ),
            1..10,
        ),
        prop::option::of(0usize..10),
        0usize..5,
        0i64..60,
        1usize..40,
        prop::option::of(0usize..12),
        0usize..3,
    )
        .prop_map(
            |(tags, latest, keep_last, min_age, max_deletions, protect, strays)| Spec {
                tags,
                latest,
                keep_last,
                min_age,
                max_deletions,
                protect,
                strays,
            },
        )
}

fn build(s: &Spec) -> Package {
    let mut p = Package {
        name: "img".into(),
        ..Default::default()
    };
    for (i, (is_index, kids, nested, age)) in s.tags.iter().enumerate() {
        let tag = if s.latest == Some(i) {
            "latest".to_string()
        } else {
            format!("t{i}")
        };
        let digest = if *is_index {
            format!("idx{i}")
        } else {
            format!("img{}", kids[0])
        };
        p.tags.insert(tag, (digest.clone(), 100 - age));
        if *is_index {
            let mut children: Vec<String> = kids.iter().map(|k| format!("img{k}")).collect();
            if *nested {
                let inner = format!("nidx{i}");
                p.children
                    .insert(inner.clone(), vec![format!("img{}", (kids[0] + 5) % 12)]);
                children.push(inner);
            }
            p.children.insert(digest, children);
        }
    }
    // Every manifest below a tag is an untagged version, as Forgejo stores them.
    let below: BTreeSet<String> = p.children.values().flatten().cloned().collect();
    for d in below {
        p.untagged.insert(d, 50);
    }
    for k in 0..s.strays {
        p.untagged.insert(format!("stray{k}"), 10);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]
    #[test]
    fn kept_tags_always_resolve_after_deletion(s in spec()) {
        let pkg = build(&s);
        let policy = Policy {
            keep_last: s.keep_last,
            always_keep: ["latest".to_string()].into(),
            keep_patterns: Vec::new(),
            delete_patterns: Vec::new(),
            min_age_secs: s.min_age,
            protected: s.protect.map(|k| format!("img{k}")).into_iter().collect(),
        };
        let d = limit(decide(&pkg, &policy, 100), s.max_deletions);
        // Apply the deletions to the model.
        let mut after = pkg.clone();
        for c in &d.candidates {
            if c.kind == 0 { after.tags.remove(&c.version); } else { after.untagged.remove(&c.version); }
        }
        let present: BTreeSet<&String> = after.untagged.keys().chain(after.tags.values().map(|(d, _)| d)).collect();
        let tags: BTreeMap<&String, &(String, i64)> = after.tags.iter().collect();
        for k in &d.kept {
            prop_assert!(tags.contains_key(&k.tag), "kept tag {} was deleted", k.tag);
            for dg in closure(&pkg, [k.digest.clone()]) {
                prop_assert!(present.contains(&dg), "kept tag {} lost {}", k.tag, dg);
            }
        }
        if pkg.tags.contains_key("latest") {
            prop_assert!(after.tags.contains_key("latest"), "latest survives");
        }
        prop_assert!(d.candidates.len() <= s.max_deletions);
    }
}
