//! Whether the token may delete the owner's packages, decided by Forgejo's
//! own permission code and without changing anything.
//!
//! Forgejo (v11.0.10 `routers/api/v1/api.go`, the `/packages/{username}`
//! group) runs: token → `tokenRequiresScopes(package)` → owner lookup →
//! `PackageAssignmentAPI` (which looks the version up when the route names
//! one) → read access → public-only check → the route's write check. A
//! DELETE of a version that does not exist therefore answers 404 before
//! write access is ever checked, so it proves nothing. The unlink route
//! (`POST /packages/{owner}/{type}/{name}/-/unlink`) names no version: its
//! write check runs before its handler looks the package up, so for a
//! package that cannot exist it answers 404 "package does not exist"
//! exactly when the token may write (scope `write:package`, and the token
//! user is the owner, a site admin, or an organisation member whose teams
//! grant write on packages — `determineAccessMode` in
//! `services/context/package.go`), and 403 otherwise. Nothing is unlinked:
//! the package does not exist.
//!
//! When the answer is "no", two reads name the cause for the diagnostic:
//! `GET /api/v1/user` (who the token belongs to) and `GET /api/v1/user/teams`
//! (its teams in the owner organisation and what they grant on packages).
//! Both need the `read:user` scope; without it the diagnostic says so.

use reqwest::Method;
use serde_json::Value;

use crate::client::Client;
use crate::names::path_safe;

/// A container package name no push can create: Forgejo's container
/// registry refuses names outside
/// `\A[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*\z`
/// (`routers/api/packages/container/container.go`), and this one has two
/// separators in a row.
pub const PROBE_PACKAGE: &str = "forgejo-retention--write-check";

/// What Forgejo answers when the token may write and the package is missing
/// (`ErrPackageNotExist`, models/packages/package.go).
const NO_PACKAGE: &str = "package does not exist";

/// A reply's status and its `message` field (Forgejo's `APIError`): as
/// sent, to classify it, and cleaned, to quote it.
struct Answer {
    status: u16,
    message: String,
    quoted: String,
}

/// The write check's request: unlinking a package that cannot exist
/// changes nothing, so it is repeated after a 5xx or a reset like a read.
fn answer(c: &Client, method: Method, path: &str) -> Result<Answer, String> {
    let (status, body) = c.call(method, path, true)?;
    let message = body["message"].as_str().unwrap_or_default().to_string();
    let quoted = c.clean(&message);
    Ok(Answer {
        status,
        message,
        quoted,
    })
}

/// Ok when Forgejo lets the token delete packages of `owner`; otherwise the
/// cause and the fix, for a plan diagnostic.
pub fn check(c: &Client, owner: &str) -> Result<(), String> {
    path_safe("owner", owner)?;
    let a = answer(
        c,
        Method::POST,
        &format!("/api/v1/packages/{owner}/container/{PROBE_PACKAGE}/-/unlink"),
    )?;
    let quoted = if a.quoted.is_empty() {
        String::new()
    } else {
        format!(": {:?}", a.quoted)
    };
    match (a.status, a.message.as_str()) {
        (404, NO_PACKAGE) => Ok(()),
        (404, m) if m.starts_with("user does not exist") => Err(format!(
            "Forgejo has no user or organisation {owner:?} (404{quoted}). Fix: set `owner` to the account that owns the packages."
        )),
        (401, _) => Err(format!(
            "Forgejo did not accept the token (401{quoted}). Fix: set `token` (or FORGEJO_TOKEN) to a valid access token."
        )),
        (403, m) if m.contains("required scope") => Err(format!(
            "the token lacks the `write:package` scope, which deleting a package version needs (403{quoted}). Fix: create a token with the package permission \"Read and write\"."
        )),
        (403, m) if m.contains("limited to public") => Err(format!(
            "the token is limited to public resources and {owner:?} is private (403{quoted}). Fix: create a token without \"public only\"."
        )),
        (403, _) => Err(format!(
            "{} (403{quoted}). Fix: use a `write:package` token of {owner:?} itself, of a site admin, or — for an organisation — of a member of a team that has Write on its Packages unit.",
            who_cannot_write(c, owner)
        )),
        (s, _) => Err(format!(
            "Forgejo's answer to the write check (POST …/-/unlink of a package that cannot exist) was {s}{quoted}, not 404 {NO_PACKAGE:?} nor a refusal: this is not the Forgejo ≥ 11 package API, so permission to delete cannot be established"
        )),
    }
}

/// Why the token's user may not write to `owner`'s packages, as far as the
/// token can read it.
fn who_cannot_write(c: &Client, owner: &str) -> String {
    let generic = format!(
        "the token's user may not write to the packages of {owner:?}: Forgejo grants that to {owner:?} itself, a site admin, or a member of an organisation team with write access to packages"
    );
    let Ok((status, me)) = c.call(Method::GET, "/api/v1/user", true) else {
        return generic;
    };
    if !(200..300).contains(&status) {
        return format!(
            "{generic} (who the token belongs to is unknown: GET /api/v1/user answered {status}, the token lacks `read:user`)"
        );
    }
    let raw_login = me["login"].as_str().unwrap_or("?");
    let login = c.clean(raw_login);
    if raw_login.eq_ignore_ascii_case(owner) {
        return format!(
            "the token belongs to {login:?}, the owner, yet Forgejo refuses it write access (an inactive or login-prohibited account gets no access)"
        );
    }
    let teams: Vec<Value> = match c.call(Method::GET, "/api/v1/user/teams", true) {
        Ok((200..=299, Value::Array(teams))) => teams,
        Ok((200..=299, _)) => Vec::new(),
        _ => return format!("the token belongs to {login:?}, not {owner:?}; {generic}"),
    };
    let mine: Vec<String> = teams
        .iter()
        .filter(|t| {
            t["organization"]["name"]
                .as_str()
                .is_some_and(|o| o.eq_ignore_ascii_case(owner))
        })
        .map(|t| {
            format!(
                "{:?} (permission {}, packages {})",
                c.clean(t["name"].as_str().unwrap_or("?")),
                c.clean(t["permission"].as_str().unwrap_or("?")),
                c.clean(t["units_map"]["repo.packages"].as_str().unwrap_or("none"))
            )
        })
        .collect();
    if mine.is_empty() {
        format!(
            "the token belongs to {login:?}, which is neither {owner:?} nor a member of a team of {owner:?} (nor a site admin); {generic}"
        )
    } else {
        format!(
            "the token belongs to {login:?}, a member of {owner:?} whose teams grant only read access to packages: {}",
            mine.join(", ")
        )
    }
}
