//! Reading a package's reference graph from Forgejo: the version listing,
//! one manifest per tag, and the image indexes nested below it.
//!
//! The registry is external input. A hostile (or broken) one could serve an
//! endless chain of distinct indexes, each naming the next, or a tree of
//! them growing at every level; manifests are fetched by digest but nothing
//! makes the registry's answer hash to it, so it could serve a cycle too.
//! The walk therefore stops at [`MAX_INDEX_DEPTH`] levels and
//! [`MAX_INDEXES_PER_TAG`] indexes with an error, never with a partial
//! graph: a manifest left unread could hold the only reference to an
//! untagged version, which would then look unreferenced and be deleted.
//! Every caller fails on that error before deleting anything. A digest
//! already walked is not walked again, which ends cycles.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::client::Client;
use crate::graph::Package;
use crate::manifest::{index_children, is_index_type};

/// How many image indexes deep a tag's manifest may nest (the tag's own
/// index is level 1). Real images have one level (a multi-platform index)
/// and rarely two; eight leaves room for any legitimate layout.
pub const MAX_INDEX_DEPTH: usize = 8;

/// How many image indexes one tag may reach in all (its own included): the
/// depth limit alone still lets every level multiply the work.
pub const MAX_INDEXES_PER_TAG: usize = 1000;

/// Child edges (index digest → child digests) of the index `digest`, whose
/// manifest is `m`, and of every index nested below it, each fetched with
/// `fetch` (None: the registry does not have it, left to the integrity
/// check). Empty when `m` is not an index.
pub fn index_edges(
    digest: &str,
    m: &Value,
    fetch: impl Fn(&str) -> Result<Option<Value>, String>,
) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut edges = Vec::new();
    // Every index fetched or about to be: none is fetched twice.
    let mut queued: BTreeSet<String> = BTreeSet::from([digest.to_string()]);
    // (digest, manifest, level), depth first.
    let mut stack = vec![(digest.to_string(), m.clone(), 1)];
    while let Some((digest, m, level)) = stack.pop() {
        let Some(kids) = index_children(&m)? else {
            continue;
        };
        edges.push((digest, kids.iter().map(|(d, _)| d.clone()).collect()));
        for (d, media_type) in kids.into_iter().rev() {
            if !is_index_type(&media_type) || queued.contains(&d) {
                continue;
            }
            if level + 1 > MAX_INDEX_DEPTH {
                return Err(format!(
                    "index {d} is nested {} levels deep, past the limit of {MAX_INDEX_DEPTH} (MAX_INDEX_DEPTH); the registry's graph cannot be read fully, so nothing is deleted",
                    level + 1
                ));
            }
            if queued.len() >= MAX_INDEXES_PER_TAG {
                return Err(format!(
                    "index {d} is past the {MAX_INDEXES_PER_TAG} image indexes one tag may reach (MAX_INDEXES_PER_TAG); the registry's graph cannot be read fully, so nothing is deleted"
                ));
            }
            queued.insert(d.clone());
            if let Some(child) = fetch(&d)? {
                stack.push((d, child, level + 1));
            }
        }
    }
    Ok(edges)
}

/// The reference graphs of `owner`'s packages (`package`: that one only):
/// one manifest fetch per tag plus one per nested index, `concurrency` at a
/// time. Any manifest that cannot be read fails the whole read.
pub fn graphs(c: &Client, owner: &str, package: Option<&str>) -> Result<Vec<Package>, String> {
    let mut pkgs: BTreeMap<String, Package> = BTreeMap::new();
    for v in c.list(owner, package)? {
        let p = pkgs.entry(v.name.clone()).or_insert_with(|| Package {
            name: v.name.clone(),
            ..Default::default()
        });
        if v.version.starts_with("sha256:") {
            p.untagged.insert(v.version, v.created_at);
        } else {
            p.tags.insert(v.version, (String::new(), v.created_at));
        }
    }
    let work: Vec<(String, String)> = pkgs
        .values()
        .flat_map(|p| p.tags.keys().map(|t| (p.name.clone(), t.clone())))
        .collect();
    // Each tag's manifest and the index edges below it.
    type Fetched = Option<(String, Vec<(String, Vec<String>)>)>;
    let fetched: Vec<Result<Fetched, String>> =
        c.parallel(&work, |(name, tag)| -> Result<Fetched, String> {
            let Some((digest, m)) = c.manifest(owner, name, tag)? else {
                return Ok(None);
            };
            let edges = index_edges(&digest, &m, |d| {
                Ok(c.manifest(owner, name, d)?.map(|(_, child)| child))
            })
            .map_err(|e| format!("{owner}/{name}:{tag}: {e}"))?;
            Ok(Some((digest, edges)))
        });
    for ((name, tag), f) in work.into_iter().zip(fetched) {
        let p = pkgs.get_mut(&name).expect("listed package");
        // A tag listed but not answering on /v2 keeps an empty digest.
        let Some((digest, edges)) = f? else {
            continue;
        };
        if let Some(t) = p.tags.get_mut(&tag) {
            t.0 = digest;
        }
        p.children.extend(edges);
    }
    Ok(pkgs.into_values().collect())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    const IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";

    fn index(children: &[(&str, &str)]) -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": children.iter().map(|(d, t)| json!({"digest": d, "mediaType": t})).collect::<Vec<_>>(),
        })
    }

    /// A registry serving `store`, recording each fetch.
    struct Registry {
        store: BTreeMap<String, Value>,
        log: RefCell<Vec<String>>,
    }

    impl Registry {
        fn new(store: BTreeMap<String, Value>) -> Registry {
            Registry {
                store,
                log: RefCell::default(),
            }
        }
        fn fetch(&self, d: &str) -> Result<Option<Value>, String> {
            self.log.borrow_mut().push(d.to_string());
            Ok(self.store.get(d).cloned())
        }
        fn walk(&self, top: &str) -> Result<Vec<(String, Vec<String>)>, String> {
            index_edges(top, &self.store[top], |d| self.fetch(d))
        }
    }

    /// sha256:i1 → sha256:i2 → … → sha256:i<n> → an image.
    fn chain(n: usize) -> BTreeMap<String, Value> {
        (1..=n)
            .map(|i| {
                let next = if i == n {
                    ("sha256:img".to_string(), IMAGE)
                } else {
                    (format!("sha256:i{}", i + 1), INDEX)
                };
                (format!("sha256:i{i}"), index(&[(&next.0, next.1)]))
            })
            .collect()
    }

    #[test]
    fn nesting_up_to_the_limit_is_read_whole() {
        let store = chain(MAX_INDEX_DEPTH);
        let r = Registry::new(store);
        let edges = r.walk("sha256:i1").unwrap();
        assert_eq!(edges.len(), MAX_INDEX_DEPTH);
        assert_eq!(
            edges.last().unwrap(),
            &(
                format!("sha256:i{MAX_INDEX_DEPTH}"),
                vec!["sha256:img".to_string()]
            )
        );
        assert_eq!(
            r.log.borrow().len(),
            MAX_INDEX_DEPTH - 1,
            "images are not fetched"
        );
    }

    #[test]
    fn one_level_deeper_fails_naming_the_index_and_fetches_no_further() {
        let store = chain(MAX_INDEX_DEPTH + 5);
        let r = Registry::new(store);
        let e = r.walk("sha256:i1").unwrap_err();
        let too_deep = format!("sha256:i{}", MAX_INDEX_DEPTH + 1);
        assert!(
            e.contains(&format!("index {too_deep} is nested 9 levels deep"))
                && e.contains("limit of 8")
                && e.contains("nothing is deleted"),
            "{e}"
        );
        assert!(!r.log.borrow().contains(&too_deep), "{:?}", r.log.borrow());
    }

    #[test]
    fn cycles_end_and_keep_every_edge() {
        // a → b → a, and c listing itself next to an image.
        let mut store = BTreeMap::new();
        store.insert(
            "sha256:a".to_string(),
            index(&[("sha256:b", INDEX), ("sha256:x", IMAGE)]),
        );
        store.insert("sha256:b".to_string(), index(&[("sha256:a", INDEX)]));
        store.insert(
            "sha256:c".to_string(),
            index(&[("sha256:c", INDEX), ("sha256:y", IMAGE)]),
        );
        let r = Registry::new(store);
        let edges = r.walk("sha256:a").unwrap();
        let edges: BTreeMap<_, _> = edges.into_iter().collect();
        assert_eq!(edges["sha256:a"], ["sha256:b", "sha256:x"]);
        assert_eq!(edges["sha256:b"], ["sha256:a"]);
        assert_eq!(*r.log.borrow(), ["sha256:b"], "a is not fetched again");
        let edges = r.walk("sha256:c").unwrap();
        assert_eq!(
            edges,
            [(
                "sha256:c".to_string(),
                vec!["sha256:c".to_string(), "sha256:y".to_string()]
            )]
        );
    }

    #[test]
    fn a_tree_of_indexes_growing_at_every_level_is_refused() {
        // Three levels, each index naming forty new ones: 1 + 40 + 1600.
        let fetch = |d: &str| -> Result<Option<Value>, String> {
            let level = d.matches('-').count() + 1;
            let media_type = if level < 3 { INDEX } else { IMAGE };
            let kids: Vec<String> = (0..40).map(|k| format!("{d}-{k}")).collect();
            let kids: Vec<(&str, &str)> = kids.iter().map(|d| (d.as_str(), media_type)).collect();
            Ok(Some(index(&kids)))
        };
        let top = fetch("sha256:t").unwrap().unwrap();
        let e = index_edges("sha256:t", &top, fetch).unwrap_err();
        assert!(
            e.contains("past the 1000 image indexes") && e.contains("nothing is deleted"),
            "{e}"
        );
    }

    #[test]
    fn an_unreadable_nested_index_fails_the_walk() {
        let store: BTreeMap<String, Value> =
            [("sha256:a".to_string(), index(&[("sha256:b", INDEX)]))].into();
        let e = index_edges("sha256:a", &store["sha256:a"], |_| {
            Err("HTTP 500".to_string())
        })
        .unwrap_err();
        assert_eq!(e, "HTTP 500");
    }
}
