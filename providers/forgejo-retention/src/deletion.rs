//! A deletion run of `retention_policy` (`dry_run = false`): the
//! candidates in plan order, then the check that every kept image is still
//! whole.

use std::collections::BTreeSet;

use tfplugin::diag::Diagnostics;
use tfplugin::provider::Ctx;

use crate::connection::Conn;
use crate::graph::{self, Decision};

/// Deletes in plan order (tags first); stops on 401/403, on three 5xx in
/// a row, or on any other unexpected status.
pub fn delete_candidates(
    ctx: &Ctx,
    c: &Conn,
    owner: &str,
    decision: &Decision,
) -> Result<(), Diagnostics> {
    let mut consecutive_5xx = 0;
    let mut order = decision.candidates.clone();
    order.sort_by_key(|x| (x.kind, x.package.clone(), x.version.clone()));
    for cand in &order {
        ctx.check_stopped()?;
        let status = c
            .client
            .delete(owner, &cand.package, &cand.version)
            .map_err(|e| Diagnostics::error("Delete failed", e))?;
        match status {
            200..=299 | 404 => consecutive_5xx = 0,
            401 | 403 => {
                return Err(Diagnostics::error(
                    "Delete refused",
                    format!(
                        "{}:{} answered {status}: the token may not delete; stopped before anything else",
                        cand.package, cand.version
                    ),
                ));
            }
            500..=599 => {
                consecutive_5xx += 1;
                if consecutive_5xx >= 3 {
                    return Err(Diagnostics::error(
                        "Registry failing",
                        format!(
                            "3 deletions in a row answered 5xx (last: {}:{}); stopped",
                            cand.package, cand.version
                        ),
                    ));
                }
            }
            s => {
                return Err(Diagnostics::error(
                    "Delete failed",
                    format!("{}:{} answered {s}", cand.package, cand.version),
                ));
            }
        }
        std::thread::sleep(c.delete_interval);
    }
    Ok(())
}

/// After deleting: every kept tag still resolves (the graph re-read
/// fetches each tag's manifest) to the digest it had, and every manifest
/// below it is still listed AND answers a HEAD on `/v2`.
pub fn verify(
    c: &Conn,
    owner: &str,
    package: Option<&str>,
    decision: &Decision,
) -> Result<(), Diagnostics> {
    let broken = |what: String| Diagnostics::error("Kept image broken after deletion", what);
    let graphs = c
        .graphs(owner, package)
        .map_err(|e| Diagnostics::error("Verification failed", e))?;
    let mut children: BTreeSet<(String, String, String)> = BTreeSet::new();
    for k in decision.kept.iter().filter(|k| !k.digest.is_empty()) {
        let p = graphs.iter().find(|p| p.name == k.package);
        let now = p.and_then(|p| p.tags.get(&k.tag)).map(|t| t.0.as_str());
        let (Some(p), Some(now)) = (p, now) else {
            return Err(broken(format!("{}:{} is gone", k.package, k.tag)));
        };
        if now != k.digest {
            return Err(broken(format!(
                "{}:{} resolves to {now}, not {}",
                k.package, k.tag, k.digest
            )));
        }
        let listed = p.listed();
        for d in graph::closure(p, [k.digest.clone()]) {
            if d == k.digest {
                continue;
            }
            if !listed.contains(&d) {
                return Err(broken(format!(
                    "{}:{} references {d}, which is no longer a package version",
                    k.package, k.tag
                )));
            }
            children.insert((k.package.clone(), d, k.tag.clone()));
        }
    }
    let children: Vec<_> = children.into_iter().collect();
    let answers = c
        .client
        .parallel(&children, |(pkg, d, _)| c.client.resolves(owner, pkg, d));
    for ((pkg, d, tag), answer) in children.iter().zip(answers) {
        match answer {
            Ok(true) => {}
            Ok(false) => {
                return Err(broken(format!(
                    "{pkg}:{tag} references {d}, which no longer answers on /v2"
                )));
            }
            Err(e) => return Err(Diagnostics::error("Verification failed", e)),
        }
    }
    Ok(())
}
