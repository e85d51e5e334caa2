//! The retention decision over a package's reference graph, as pure
//! functions (property-tested in `tests/property.rs`).
//!
//! Forgejo stores every tag of a container image as a package version and
//! every manifest an index points to (per-platform images, attestations) as a
//! separate UNTAGGED version named by its digest. The seeds' CronJob deleted
//! raw versions and on 2026-06-10 deleted children of kept indexes, leaving
//! those indexes broken. Here nothing reachable from a kept tag is ever a
//! candidate, and an untagged child is deleted only when no kept tag can
//! reach it.

use std::collections::{BTreeMap, BTreeSet};

/// One package's versions and the manifest edges fetched for its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// tag → (digest, created_at unix seconds).
    pub tags: BTreeMap<String, (String, i64)>,
    /// untagged digest → created_at unix seconds.
    pub untagged: BTreeMap<String, i64>,
    /// digest → child digests (only index manifests have children).
    pub children: BTreeMap<String, Vec<String>>,
}

impl Package {
    /// Every digest that is a package version: the tags' digests and the
    /// untagged versions. A manifest outside this set no longer resolves.
    pub fn listed(&self) -> BTreeSet<&String> {
        self.untagged
            .keys()
            .chain(self.tags.values().map(|(d, _)| d))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub keep_last: usize,
    pub always_keep: BTreeSet<String>,
    pub keep_patterns: Vec<regex::Regex>,
    pub delete_patterns: Vec<regex::Regex>,
    pub min_age_secs: i64,
    pub protected: BTreeSet<String>,
}

impl PartialEq for KeepReason {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Why a tag stays.
#[derive(Debug, Clone)]
pub enum KeepReason {
    AlwaysKeep,
    KeepPattern(String),
    Protected,
    Newest(usize),
    TooYoung,
    SameImageAsKept(String),
    Deferred(&'static str),
}

impl std::fmt::Display for KeepReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeepReason::AlwaysKeep => write!(f, "always kept"),
            KeepReason::KeepPattern(p) => write!(f, "matches keep pattern {p}"),
            KeepReason::Protected => write!(f, "protected digest"),
            KeepReason::Newest(n) => write!(f, "among the newest {n} tags"),
            KeepReason::TooYoung => write!(f, "younger than min_age"),
            KeepReason::SameImageAsKept(t) => write!(f, "same image as kept tag {t}"),
            KeepReason::Deferred(why) => write!(f, "deferred: {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    pub package: String,
    /// 0 = tag (deleted first), 1 = untagged manifest.
    pub kind: u8,
    pub version: String,
    pub digest: String,
    pub created_at: i64,
    /// Tags whose closure contains this digest (all of them candidates).
    pub referenced_by: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub package: String,
    pub tag: String,
    pub digest: String,
    pub reason: KeepReason,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub candidates: Vec<Candidate>,
    pub kept: Vec<Kept>,
    /// "package@index → missing child" for kept indexes whose child is gone.
    pub orphans: Vec<String>,
}

/// Every digest reachable from `roots` (the roots included).
pub fn closure(pkg: &Package, roots: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = roots.into_iter().collect();
    while let Some(d) = stack.pop() {
        if seen.insert(d.clone()) {
            stack.extend(pkg.children.get(&d).cloned().unwrap_or_default());
        }
    }
    seen
}

/// The retention decision for one package at time `now`.
pub fn decide(pkg: &Package, policy: &Policy, now: i64) -> Decision {
    let mut by_age: Vec<(&String, &(String, i64))> = pkg.tags.iter().collect();
    // Newest first; ties broken by name so the result is deterministic.
    by_age.sort_by(|a, b| b.1.1.cmp(&a.1.1).then_with(|| a.0.cmp(b.0)));
    let mut kept: Vec<Kept> = Vec::new();
    let mut doomed: Vec<(&String, &String, i64, String)> = Vec::new();
    let mut counted = 0;
    for (tag, (digest, created)) in by_age {
        let keep = |r: KeepReason| Kept {
            package: pkg.name.clone(),
            tag: tag.clone(),
            digest: digest.clone(),
            reason: r,
        };
        if policy.always_keep.contains(tag) {
            kept.push(keep(KeepReason::AlwaysKeep));
        } else if let Some(p) = policy.keep_patterns.iter().find(|p| p.is_match(tag)) {
            kept.push(keep(KeepReason::KeepPattern(p.as_str().to_string())));
        } else if policy.protected.contains(digest) {
            kept.push(keep(KeepReason::Protected));
        } else if let Some(p) = policy.delete_patterns.iter().find(|p| p.is_match(tag)) {
            if now - created < policy.min_age_secs {
                kept.push(keep(KeepReason::TooYoung));
            } else {
                doomed.push((
                    tag,
                    digest,
                    *created,
                    format!("matches delete pattern {}", p.as_str()),
                ));
            }
        } else if counted < policy.keep_last {
            counted += 1;
            kept.push(keep(KeepReason::Newest(policy.keep_last)));
        } else if now - created < policy.min_age_secs {
            kept.push(keep(KeepReason::TooYoung));
        } else {
            doomed.push((
                tag,
                digest,
                *created,
                format!("older than the newest {} tags", policy.keep_last),
            ));
        }
    }
    // Nothing reachable from a kept tag is a candidate: a doomed tag that
    // points into a kept image stays.
    let mut reachable = closure(pkg, kept.iter().map(|k| k.digest.clone()));
    let mut candidates = Vec::new();
    for (tag, digest, created, reason) in doomed {
        if reachable.contains(digest) {
            let owner = kept
                .iter()
                .find(|k| closure(pkg, [k.digest.clone()]).contains(digest))
                .map(|k| k.tag.clone())
                .unwrap_or_default();
            kept.push(Kept {
                package: pkg.name.clone(),
                tag: tag.clone(),
                digest: digest.clone(),
                reason: KeepReason::SameImageAsKept(owner),
            });
            reachable = closure(pkg, kept.iter().map(|k| k.digest.clone()));
            continue;
        }
        candidates.push(Candidate {
            package: pkg.name.clone(),
            kind: 0,
            version: tag.clone(),
            digest: digest.clone(),
            created_at: created,
            referenced_by: Vec::new(),
            reason,
        });
    }
    let tag_closures: Vec<(String, BTreeSet<String>)> = candidates
        .iter()
        .map(|c| (c.version.clone(), closure(pkg, [c.digest.clone()])))
        .collect();
    // Untagged manifests: only when no kept tag reaches them and they are old enough.
    for (digest, created) in &pkg.untagged {
        if reachable.contains(digest)
            || policy.protected.contains(digest)
            || now - created < policy.min_age_secs
        {
            continue;
        }
        let referenced_by: Vec<String> = tag_closures
            .iter()
            .filter(|(_, c)| c.contains(digest))
            .map(|(t, _)| t.clone())
            .collect();
        let reason = if referenced_by.is_empty() {
            "untagged and referenced by no tag".to_string()
        } else {
            "only referenced by deleted tags".to_string()
        };
        candidates.push(Candidate {
            package: pkg.name.clone(),
            kind: 1,
            version: digest.clone(),
            digest: digest.clone(),
            created_at: *created,
            referenced_by,
            reason,
        });
    }
    // Pre-existing orphans: a kept index whose child has no version.
    let present = pkg.listed();
    let mut orphans = BTreeSet::new();
    for k in &kept {
        for d in closure(pkg, [k.digest.clone()]) {
            for child in pkg.children.get(&d).into_iter().flatten() {
                if !present.contains(child) {
                    orphans.insert(format!("{}@{} → missing {}", pkg.name, d, child));
                }
            }
        }
    }
    candidates.sort();
    kept.sort_by(|a, b| a.tag.cmp(&b.tag));
    Decision {
        candidates,
        kept,
        orphans: orphans.into_iter().collect(),
    }
}

/// Applies the run limits: at most `max_deletions` (oldest first), and the
/// untagged children of a deferred tag are deferred with it.
pub fn limit(mut d: Decision, max_deletions: usize) -> Decision {
    if d.candidates.len() <= max_deletions {
        return d;
    }
    let mut order: Vec<Candidate> = d.candidates.clone();
    order.sort_by_key(|c| (c.created_at, c.kind, c.version.clone()));
    let mut chosen: BTreeSet<(String, String)> = BTreeSet::new();
    for c in &order {
        if chosen.len() >= max_deletions {
            break;
        }
        // A child goes only together with (or after) every tag referencing it.
        if c.referenced_by
            .iter()
            .all(|t| chosen.contains(&(c.package.clone(), t.clone())))
        {
            chosen.insert((c.package.clone(), c.version.clone()));
        }
    }
    let (keep_now, later): (Vec<Candidate>, Vec<Candidate>) = d
        .candidates
        .into_iter()
        .partition(|c| chosen.contains(&(c.package.clone(), c.version.clone())));
    d.candidates = keep_now;
    for c in later.into_iter().filter(|c| c.kind == 0) {
        d.kept.push(Kept {
            package: c.package,
            tag: c.version,
            digest: c.digest,
            reason: KeepReason::Deferred("max_deletions reached this run"),
        });
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(n: usize) -> Policy {
        Policy {
            keep_last: n,
            always_keep: ["latest".to_string()].into(),
            keep_patterns: vec![regex::Regex::new("(?i)cache").unwrap()],
            delete_patterns: Vec::new(),
            min_age_secs: 0,
            protected: BTreeSet::new(),
        }
    }

    /// A multi-arch index `i` with children `i-amd64`, `i-att` pushed at `t`.
    fn image(p: &mut Package, tag: &str, i: &str, t: i64) {
        p.tags.insert(tag.into(), (i.into(), t));
        for c in [format!("{i}-amd64"), format!("{i}-att")] {
            p.untagged.insert(c.clone(), t);
        }
        p.children
            .insert(i.into(), vec![format!("{i}-amd64"), format!("{i}-att")]);
    }

    #[test]
    fn stale_latest_survives_and_its_children_are_never_candidates() {
        let mut p = Package {
            name: "web".into(),
            ..Default::default()
        };
        image(&mut p, "latest", "i0", 0); // the oldest image is still `latest`
        for n in 1..5 {
            image(&mut p, &format!("sha-{n}"), &format!("i{n}"), n);
        }
        let d = decide(&p, &policy(2), 100);
        let cands: BTreeSet<&str> = d.candidates.iter().map(|c| c.version.as_str()).collect();
        assert_eq!(
            cands,
            ["sha-1", "sha-2", "i1-amd64", "i1-att", "i2-amd64", "i2-att"]
                .into_iter()
                .collect()
        );
        assert!(
            !cands.contains(&"latest") && !cands.iter().any(|c| c.starts_with("i0")),
            "{cands:?}"
        );
        assert!(
            !cands.contains(&"sha-4") && !cands.contains(&"sha-3"),
            "keep the newest 2: {cands:?}"
        );
        assert!(
            d.candidates
                .iter()
                .filter(|c| c.kind == 1)
                .all(|c| !c.referenced_by.is_empty())
        );
    }

    #[test]
    fn a_sha_tag_of_the_latest_image_is_kept() {
        let mut p = Package {
            name: "web".into(),
            ..Default::default()
        };
        image(&mut p, "latest", "i9", 9);
        p.tags.insert("sha-old".into(), ("i9".into(), 1));
        let d = decide(&p, &policy(0), 100);
        assert!(d.candidates.is_empty(), "{:?}", d.candidates);
        assert!(d.kept.iter().any(|k| {
            k.tag == "sha-old"
                && k.reason
                    .to_string()
                    .contains("same image as kept tag latest")
        }));
    }

    #[test]
    fn orphans_and_limits() {
        let mut p = Package {
            name: "web".into(),
            ..Default::default()
        };
        image(&mut p, "latest", "i9", 9);
        p.untagged.remove("i9-att");
        let d = decide(&p, &policy(1), 100);
        assert_eq!(d.orphans, vec!["web@i9 → missing i9-att".to_string()]);
        let mut q = Package {
            name: "web".into(),
            ..Default::default()
        };
        for n in 0..6 {
            image(&mut q, &format!("sha-{n}"), &format!("i{n}"), n);
        }
        let d = limit(decide(&q, &policy(1), 100), 4);
        assert_eq!(d.candidates.len(), 4);
        for c in d.candidates.iter().filter(|c| c.kind == 1) {
            assert!(
                c.referenced_by
                    .iter()
                    .all(|t| d.candidates.iter().any(|x| &x.version == t)),
                "children only with their tags"
            );
        }
    }
}
