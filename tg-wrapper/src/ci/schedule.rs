//! Ordering stacks: platform stacks first (serially, in the listed order),
//! then app stacks; terragrunt `dependency`/`dependencies` blocks add
//! edges (parsed as HCL, includes followed: [`crate::graph::dependencies`]). With `--jobs N`, stacks whose dependencies are done run in
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
            d.extend(
                crate::graph::dependencies(repo, a)
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
/// once; results come back in graph order. `ended` hears of every stack
/// as it ends: `true` when `work` ran it, `false` when it was skipped for a
/// dependency that did not apply.
pub fn run<F, E>(graph: &Graph, jobs: usize, work: F, ended: E) -> Vec<StackResult>
where
    F: Fn(&str) -> StackResult + Sync,
    E: Fn(&StackResult, bool) + Sync,
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
                                let r = StackResult::skipped(
                                    &s,
                                    format!("dependency {d} did not apply"),
                                );
                                ended(&r, false);
                                st.results.push(r);
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
                    ended(&r, true);
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
        let (_dir, repo) = crate::repo::fixture::repo(
            &["dbaas", "platform", "infra", "other"],
            &[(
                "stacks/app/terragrunt.hcl",
                "dependency \"db\" {\n  config_path = \"../dbaas\"\n}\ndependencies {\n  paths = [\"../platform\", \"../infra/\"]\n}\n# config_path = \"../other\"\n",
            )],
        );
        let deps: Vec<String> = crate::graph::dependencies(&repo, "app")
            .into_iter()
            .collect();
        assert_eq!(
            deps,
            vec!["dbaas", "infra", "platform"],
            "a comment is no dependency"
        );
        let all: Vec<String> = ["app", "dbaas", "infra", "other", "platform"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let g = Graph::build(&repo, &all, &[]);
        assert_eq!(
            g.deps["app"].iter().collect::<Vec<_>>(),
            ["dbaas", "infra", "platform"]
        );
    }

    /// Text a pattern over the file would take for dependencies: a heredoc
    /// and a string quoting a block, and a path built by interpolation
    /// that only the parse (and evaluation) of the expression resolves.
    #[test]
    fn deps_from_odd_hcl() {
        let (_dir, repo) = crate::repo::fixture::repo(
            &["dbaas", "other", "quoted"],
            &[(
                "stacks/app/terragrunt.hcl",
                concat!(
                    "locals {\n",
                    "  note = <<-EOT\n",
                    "    dependency \"x\" {\n",
                    "      config_path = \"../other\"\n",
                    "    }\n",
                    "  EOT\n",
                    "}\n",
                    "/* dependencies { paths = [\"../other\"] } */\n",
                    "dependency \"db\" {\n",
                    "  config_path = \"${get_terragrunt_dir()}/../dbaas\"\n",
                    "}\n",
                    "inputs = {\n",
                    "  doc = \"config_path = \\\"../quoted\\\"\"\n",
                    "}\n",
                ),
            )],
        );
        let deps: Vec<String> = crate::graph::dependencies(&repo, "app")
            .into_iter()
            .collect();
        assert_eq!(deps, vec!["dbaas"]);
    }
}
