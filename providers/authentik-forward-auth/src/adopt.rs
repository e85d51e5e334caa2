//! Creates that survive a lost answer. A POST is never retried once sent
//! (it is not idempotent), so when its answer is lost (reset or timeout
//! after sending) or is a 5xx, the object may exist in Authentik without
//! being in Terraform's state. [`create`] then looks the object up by its
//! unique key and adopts it only if every field it sent reads back the
//! same; an object that differs was made by someone else and is reported,
//! never taken over. When the lookup finds nothing, the POST was not
//! acted on, so it is sent again (up to [`SENDS`] times): one 5xx or reset
//! would otherwise fail the whole host, and under a steady fault rate the
//! same host can fail every apply. A re-sent POST can meet an earlier one
//! the server acted on only after our lookup: for a unique key the server
//! answers "already exists", and that object is adopted on the same terms.
//! An "already exists" 400 to a first POST names the object and the import
//! that brings it under Terraform.

use crate::client::{Api, ApiError};
use serde_json::Value as Json;
use tfplugin::diag::Diagnostics;

/// One create: where, what, and how to find the object again.
pub struct Create<'a> {
    /// Collection path relative to `/api/v3/` (`providers/proxy/`).
    pub collection: &'a str,
    pub body: &'a Json,
    /// The object, for messages (`application "grafana"`).
    pub what: &'a str,
    /// Summary of the diagnostic when the create fails.
    pub summary: &'a str,
    /// List filter (URL-encoded) narrowing the lookup to candidates.
    pub query: String,
    /// Body fields that identify the object (its unique key).
    pub key: &'a [&'a str],
    /// How to bring an existing object under Terraform (an import line).
    pub import: String,
}

/// The body fields whose value on `found` differs from what was sent.
fn differing(body: &Json, found: &Json) -> Vec<String> {
    body.as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(k, v)| found.get(k.as_str()) != Some(v))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// How many times one create is sent, each after a lookup that found
/// nothing.
const SENDS: u32 = 3;

/// POSTs `c.body`; see the module doc for what happens when that fails.
pub fn create(api: &Api, c: &Create<'_>) -> Result<Json, Diagnostics> {
    let mut earlier_uncertain = false;
    let mut sent = 0;
    loop {
        sent += 1;
        let err = match api.post(c.collection, c.body, c.what) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let already =
            matches!(&err, ApiError::Invalid { detail, .. } if detail.contains("already exists"));
        if !err.is_uncertain() && !already {
            return Err(Diagnostics::error(c.summary, err.to_string()));
        }
        let found = api
            .list(c.collection, &c.query, c.what)
            .map_err(|e| {
                Diagnostics::error(
                    c.summary,
                    format!("{err}; looking {} up to see whether it was made anyway failed too: {e}. Check Authentik for it before applying again.", c.what),
                )
            })?
            .into_iter()
            .find(|o| c.key.iter().all(|k| o.get(*k) == c.body.get(*k)));
        let Some(found) = found else {
            if err.is_uncertain() && sent < SENDS {
                earlier_uncertain = true;
                continue;
            }
            return Err(Diagnostics::error(c.summary, err.to_string()));
        };
        let pk = found.get("pk").map(Json::to_string).unwrap_or_default();
        let diff = differing(c.body, &found);
        if (err.is_uncertain() || earlier_uncertain) && diff.is_empty() {
            return Ok(found);
        }
        let why = if already {
            "already exists in Authentik".to_string()
        } else {
            format!(
                "exists in Authentik after a create whose answer was lost ({err}), but it is not what this create sent (differs in: {}), so it was made by someone else and is not adopted",
                diff.join(", ")
            )
        };
        return Err(Diagnostics::error(
            c.summary,
            format!(
                "{} (pk {pk}) {why}. To manage it with Terraform, import it: {}; or remove it from Authentik, or choose another name.",
                c.what, c.import
            ),
        ));
    }
}
