//! Ordering stacks: platform stacks first (serially, in the listed order),
//! then app stacks; terragrunt `dependency`/`dependencies` blocks add
//! edges. With `--jobs N`, stacks whose dependencies are done run in
//! parallel; a stack whose dependency did not apply is skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};

use super::report::{Outcome, StackResult};
use crate::repo::Repo;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// Display and priority order.
    pub order: Vec<String>,
    pub deps: BTreeMap<String, BTreeSet<String>>,
}

/// `../x` references in a stack's terragrunt.hcl (`config_path`, `paths`).
fn declared_deps(hcl: &str) -> Vec<String> {
    let re = regex::Regex::new(r#""\.\./([A-Za-z0-9_.-]+)/?""#).expect("static regex");
    re.captures_iter(hcl).map(|c| c[1].to_string()).collect()
}

impl Graph {
    pub fn build(repo: &Repo, stacks: &[String], platform: &[String]) -> Graph {
        let selected: BTreeSet<&String> = stacks.iter().collect();
        let platform_sel: Vec<String> = platform
            .iter()
            .filter(|p| selected.contains(p))
            .cloned()
            .collect();
        let mut apps: Vec<String> = stacks
            .iter()
            .filter(|s| !platform.contains(s))
            .cloned()
            .collect();
        apps.sort();
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (i, p) in platform_sel.iter().enumerate() {
            let mut d = BTreeSet::new();
            if i > 0 {
                d.insert(platform_sel[i - 1].clone());
            }
            deps.insert(p.clone(), d);
        }
        for a in &apps {
            let mut d: BTreeSet<String> = platform_sel.iter().cloned().collect();
            let hcl =
                std::fs::read_to_string(repo.root.join("stacks").join(a).join("terragrunt.hcl"))
                    .unwrap_or_default();
            d.extend(
                declared_deps(&hcl)
                    .into_iter()
                    .filter(|x| selected.contains(x) && x != a),
            );
            deps.insert(a.clone(), d);
        }
        let mut order = platform_sel;
        order.extend(apps);
        Graph { order, deps }
    }
}

struct State {
    done: BTreeMap<String, Outcome>,
    results: Vec<StackResult>,
    started: BTreeSet<String>,
}

/// Runs `work` for every stack respecting dependencies, at most `jobs` at
/// once; results come back in graph order.
pub fn run<F>(graph: &Graph, jobs: usize, work: F) -> Vec<StackResult>
where
    F: Fn(&str) -> StackResult + Sync,
{
    let state = Mutex::new(State {
        done: BTreeMap::new(),
        results: Vec::new(),
        started: BTreeSet::new(),
    });
    let wake = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let next = {
                        let mut st = state.lock().expect("scheduler lock");
                        loop {
                            if st.started.len() == graph.order.len() {
                                break None;
                            }
                            // Skip stacks whose dependency finished without OK.
                            let blocked: Vec<(String, String)> = graph
                                .order
                                .iter()
                                .filter(|s| !st.started.contains(*s))
                                .filter_map(|s| {
                                    graph.deps[s]
                                        .iter()
                                        .find(|d| {
                                            st.done.get(*d).is_some_and(|o| {
                                                *o != Outcome::Ok && *o != Outcome::Drift
                                            })
                                        })
                                        .map(|d| (s.clone(), d.clone()))
                                })
                                .collect();
                            for (s, d) in blocked {
                                st.started.insert(s.clone());
                                st.done.insert(s.clone(), Outcome::Skipped);
                                println!("[{s}] SKIPPED (dependency {d} did not apply)");
                                st.results.push(StackResult::skipped(
                                    &s,
                                    format!("dependency {d} did not apply"),
                                ));
                                wake.notify_all();
                            }
                            let ready = graph.order.iter().find(|s| {
                                !st.started.contains(*s)
                                    && graph.deps[*s].iter().all(|d| st.done.contains_key(d))
                            });
                            if let Some(s) = ready.cloned() {
                                st.started.insert(s.clone());
                                break Some(s);
                            }
                            if st.started.len() == graph.order.len() {
                                break None;
                            }
                            st = wake.wait(st).expect("scheduler wait");
                        }
                    };
                    let Some(stack) = next else {
                        wake.notify_all();
                        return;
                    };
                    let r = work(&stack);
                    let mut st = state.lock().expect("scheduler lock");
                    st.done.insert(stack, r.outcome);
                    st.results.push(r);
                    wake.notify_all();
                }
            });
        }
    });
    let mut results = state.into_inner().expect("scheduler state").results;
    results.sort_by_key(|r| graph.order.iter().position(|s| *s == r.stack));
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_from_terragrunt_blocks() {
        let hcl = "dependency \"db\" {\n  config_path = \"../dbaas\"\n}\ndependencies {\n  paths = [\"../platform\", \"../infra/\"]\n}\n";
        assert_eq!(declared_deps(hcl), vec!["dbaas", "platform", "infra"]);
    }
}
