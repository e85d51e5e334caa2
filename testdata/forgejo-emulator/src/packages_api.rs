//! Forgejo's package-management API (`/api/v1/packages/{owner}`) and the
//! two `/api/v1/user` reads, with the middleware order of Forgejo v11.0.10
//! `routers/api/v1/api.go` for the `/packages/{username}` group:
//! `reqToken` → `tokenRequiresScopes(package)` → `UserAssignmentAPI` (owner)
//! → `PackageAssignmentAPI` (access mode; the version when the route names
//! one) → `reqPackageAccess(read)` → `checkTokenPublicOnly` → the route's own
//! `reqPackageAccess(write)` on DELETE and unlink → the handler.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::accounts::{Access, Account, Token, api_error};
use crate::{Emulator, Version};

/// `setting.API.DefaultPagingNum` and `MaxResponseItems` (defaults).
const DEFAULT_PAGE: usize = 30;
const MAX_PAGE: usize = 50;

/// The message `PackageAssignmentAPI` and the link handlers answer with
/// (`ErrPackageNotExist`, models/packages/package.go).
const NO_PACKAGE: &str = "package does not exist";

fn error(base: &str, status: StatusCode, message: &str) -> Response {
    (status, axum::Json(api_error(base, message))).into_response()
}

/// `AppURL`, taken from the request's Host (the emulator has no config).
pub(crate) fn base_of(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The caller and the owner after the group middleware ran.
struct Admitted {
    base: String,
    doer: Account,
    owner: Account,
}

impl Emulator {
    /// `tokenRequiresScopes` (routers/api/v1/api.go): read for GET/HEAD,
    /// write for POST/PUT/PATCH/DELETE.
    fn require_scope(
        base: &str,
        token: &Token,
        method: &Method,
        category: &str,
    ) -> Result<(), Box<Response>> {
        let level = if matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        ) {
            "write"
        } else {
            "read"
        };
        let wanted = format!("{level}:{category}");
        if token.has_scope(&wanted) {
            Ok(())
        } else {
            Err(Box::new(error(
                base,
                StatusCode::FORBIDDEN,
                &format!("token does not have at least one of required scope(s): [{wanted}]"),
            )))
        }
    }

    /// Auth + the `/packages/{username}` group middleware, in Forgejo's
    /// order. `version`: the `(type, name, version)` the route names, looked
    /// up before any permission check as `packageAssignment` does.
    fn admit(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        owner: &str,
        version: Option<(&str, &str, &str)>,
        write: bool,
    ) -> Result<(Admitted, Option<Version>), Box<Response>> {
        let base = base_of(headers);
        let token = self.gate(method, path, headers)?;
        Self::require_scope(&base, &token, method, "package")?;
        let s = self.store.lock().expect("store");
        let dir = &s.directory;
        let doer = dir
            .by_name(&token.user)
            .cloned()
            .ok_or_else(|| Box::new(error(&base, StatusCode::UNAUTHORIZED, "token is required")))?;
        // UserAssignmentAPI (services/context/user.go).
        let Some(owner) = dir.by_name(owner).cloned() else {
            return Err(Box::new(error(
                &base,
                StatusCode::NOT_FOUND,
                &format!("user does not exist [uid: 0, name: {owner}]"),
            )));
        };
        let access = dir.package_access(&owner, &doer);
        // packageAssignment: the version, before any permission check.
        let found = match version {
            Some((kind, name, version)) => {
                let hit = (kind == "container")
                    .then(|| {
                        s.versions.get(&owner.name).and_then(|l| {
                            l.iter().find(|v| {
                                v.name.eq_ignore_ascii_case(name)
                                    && v.version.eq_ignore_ascii_case(version)
                            })
                        })
                    })
                    .flatten()
                    .cloned();
                match hit {
                    Some(v) => Some(v),
                    None => return Err(Box::new(error(&base, StatusCode::NOT_FOUND, NO_PACKAGE))),
                }
            }
            None => None,
        };
        let denied = || {
            Box::new(error(
                &base,
                StatusCode::FORBIDDEN,
                "user should have specific permission or be a site admin",
            ))
        };
        // reqPackageAccess(read): site admins pass whatever the mode.
        if access < Access::Read && !doer.is_admin {
            return Err(denied());
        }
        // checkTokenPublicOnly: a public-only token, a private owner.
        if token.public_only() && owner.visibility == crate::accounts::Visibility::Private {
            return Err(Box::new(error(
                &base,
                StatusCode::FORBIDDEN,
                "token scope is limited to public packages",
            )));
        }
        if write && access < Access::Write && !doer.is_admin {
            return Err(denied());
        }
        Ok((Admitted { base, doer, owner }, found))
    }

    fn package_json(&self, a: &Admitted, v: &Version) -> Value {
        let s = self.store.lock().expect("store");
        let dir = &s.directory;
        let creator = dir.by_name(&v.creator).unwrap_or(&a.owner);
        json!({
            "id": v.id,
            "owner": dir.user_json(&a.base, &a.owner, &a.doer),
            "repository": null,
            "creator": dir.user_json(&a.base, creator, &a.doer),
            "type": "container",
            "name": v.name,
            "version": v.version,
            "html_url": format!(
                "{}/{}/-/packages/container/{}/{}",
                a.base,
                a.owner.name,
                v.name.to_lowercase(),
                v.version.to_lowercase()
            ),
            "created_at": v.created_at,
        })
    }
}

/// SQL `LIKE '%q%'` on the lower-cased name (`builder.Like` in
/// `PackageSearchOptions.ToConds`): `_` matches one character, `%` any run.
fn like(name: &str, q: &str) -> bool {
    fn at(n: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('%', rest)) => (0..=n.len()).any(|i| at(&n[i..], rest)),
            Some(('_', rest)) => !n.is_empty() && at(&n[1..], rest),
            Some((c, rest)) => n.first() == Some(c) && at(&n[1..], rest),
        }
    }
    let n: Vec<char> = name.to_lowercase().chars().collect();
    let p: Vec<char> = format!("%{}%", q.to_lowercase()).chars().collect();
    at(&n, &p)
}

/// `genAPILinks` (services/context/api.go) over `modules/paginator`: next,
/// last, first, prev, each the request URL with `page` replaced, query keys
/// sorted (Go's `url.Values.Encode`), joined by ",".
fn link_header(
    base: &str,
    path: &str,
    query: &BTreeMap<String, String>,
    total: usize,
    size: usize,
    page: usize,
) -> String {
    let pages = total.div_ceil(size).max(1);
    let current = page.clamp(1, pages);
    let url = |p: usize| {
        let mut q = query.clone();
        q.insert("page".into(), p.to_string());
        let enc: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("{base}{path}?{}", enc.join("&"))
    };
    let has_next = total > current * size;
    let is_last = total == 0 || (total > (current - 1) * size && !has_next);
    let mut links = Vec::new();
    if has_next {
        links.push(format!("<{}>; rel=\"next\"", url(current + 1)));
    }
    if !is_last {
        links.push(format!("<{}>; rel=\"last\"", url(pages)));
    }
    if current != 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    if current > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(current - 1)));
    }
    links.join(",")
}

/// Go's `url.QueryEscape`.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `strconv.Atoi` as `ctx.FormInt` uses it: anything unparsable is 0.
fn form_int(q: &BTreeMap<String, String>, key: &str) -> i64 {
    q.get(key).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// `GET /api/v1/packages/{owner}` (`ListPackages`): newest first, then by
/// id (`configureOrderBy`); `type` exact unless empty or `all`; `q` a
/// case-insensitive LIKE on the name; `limit` ≤ 0 → 30, > 50 → 50.
pub(crate) async fn list(
    State(e): State<Emulator>,
    Path(owner): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/packages/{owner}");
    let (a, _) = match e.admit(&method, &path, &headers, &owner, None, false) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let kind = q.get("type").map(|t| t.trim()).unwrap_or("");
    let needle = q.get("q").map(|t| t.trim()).unwrap_or("");
    // Every version here is a container one.
    let type_ok = kind.is_empty() || kind == "all" || kind == "container";
    let mut all: Vec<Version> = {
        let s = e.store.lock().expect("store");
        s.versions
            .get(&a.owner.name)
            .filter(|_| type_ok)
            .map(|l| {
                l.iter()
                    .filter(|v| needle.is_empty() || like(&v.name, needle))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    all.sort_by(|x, y| y.created_at.cmp(&x.created_at).then(x.id.cmp(&y.id)));
    let limit = form_int(&q, "limit");
    let size = if limit <= 0 {
        DEFAULT_PAGE
    } else {
        (limit as usize).min(MAX_PAGE)
    };
    let page = form_int(&q, "page").max(1) as usize;
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * size)
        .take(size)
        .map(|v| e.package_json(&a, v))
        .collect();
    let mut resp = axum::Json(items).into_response();
    let h = resp.headers_mut();
    let link = link_header(
        &a.base,
        &path,
        &q,
        all.len(),
        size,
        form_int(&q, "page").max(0) as usize,
    );
    if !link.is_empty()
        && let Ok(v) = HeaderValue::from_str(&link)
    {
        h.insert("link", v);
    }
    h.insert("x-total-count", HeaderValue::from(all.len()));
    resp
}

/// `GET /api/v1/packages/{owner}/{type}/{name}/{version}` (`GetPackage`).
pub(crate) async fn get_version(
    State(e): State<Emulator>,
    Path((owner, kind, name, version)): Path<(String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/packages/{owner}/{kind}/{name}/{version}");
    match e.admit(
        &method,
        &path,
        &headers,
        &owner,
        Some((&kind, &name, &version)),
        false,
    ) {
        Ok((a, Some(v))) => axum::Json(e.package_json(&a, &v)).into_response(),
        Ok((a, None)) => error(&a.base, StatusCode::NOT_FOUND, NO_PACKAGE),
        Err(r) => *r,
    }
}

/// `GET /api/v1/packages/{owner}/{type}/{name}/{version}/files`
/// (`ListPackageFiles`): see [`crate::files`].
pub(crate) async fn list_files(
    State(e): State<Emulator>,
    Path((owner, kind, name, version)): Path<(String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/packages/{owner}/{kind}/{name}/{version}/files");
    match e.admit(
        &method,
        &path,
        &headers,
        &owner,
        Some((&kind, &name, &version)),
        false,
    ) {
        Ok((_, Some(v))) => {
            let s = e.store.lock().expect("store");
            let files: Vec<Value> = s
                .files
                .get(&v.digest)
                .map(|l| l.iter().map(|f| f.json()).collect())
                .unwrap_or_default();
            axum::Json(files).into_response()
        }
        Ok((a, None)) => error(&a.base, StatusCode::NOT_FOUND, NO_PACKAGE),
        Err(r) => *r,
    }
}

/// `POST /api/v1/packages/{owner}/{type}/{name}/-/unlink` (`UnlinkPackage`):
/// no version in the route, so write access is checked before the
/// package is looked up (`GetPackageByName`). Packages here are never
/// linked to a repository, so an existing one answers 204 unchanged.
pub(crate) async fn unlink(
    State(e): State<Emulator>,
    Path((owner, kind, name)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/packages/{owner}/{kind}/{name}/-/unlink");
    let (a, _) = match e.admit(&method, &path, &headers, &owner, None, true) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let exists = kind == "container"
        && e.store
            .lock()
            .expect("store")
            .versions
            .get(&a.owner.name)
            .is_some_and(|l| l.iter().any(|v| v.name.eq_ignore_ascii_case(&name)));
    if exists {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(&a.base, StatusCode::NOT_FOUND, NO_PACKAGE)
    }
}

/// `DELETE /api/v1/packages/{owner}/{type}/{name}/{version}`
/// (`DeletePackage`): the version is looked up before write access is
/// checked, so a missing version answers 404 to any token with the scope.
pub(crate) async fn delete_version(
    State(e): State<Emulator>,
    Path((owner, kind, name, version)): Path<(String, String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let path = format!("/api/v1/packages/{owner}/{kind}/{name}/{version}");
    let (a, v) = match e.admit(
        &method,
        &path,
        &headers,
        &owner,
        Some((&kind, &name, &version)),
        true,
    ) {
        Ok((a, Some(v))) => (a, v),
        Ok((a, None)) => return error(&a.base, StatusCode::NOT_FOUND, NO_PACKAGE),
        Err(r) => return *r,
    };
    e.remove_admitted(&a.owner.name, &v).await
}

/// The `/user` group: `tokenRequiresScopes(user)` then `reqToken`.
fn user_gate(
    e: &Emulator,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(String, Account), Box<Response>> {
    let base = base_of(headers);
    let token = e.gate(method, path, headers)?;
    Emulator::require_scope(&base, &token, method, "user")?;
    let doer = e
        .store
        .lock()
        .expect("store")
        .directory
        .by_name(&token.user)
        .cloned()
        .ok_or_else(|| Box::new(error(&base, StatusCode::UNAUTHORIZED, "token is required")))?;
    Ok((base, doer))
}

/// `GET /api/v1/user` (`GetAuthenticatedUser`): the doer, private fields included.
pub(crate) async fn user(
    State(e): State<Emulator>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    match user_gate(&e, &method, "/api/v1/user", &headers) {
        Ok((base, doer)) => {
            let s = e.store.lock().expect("store");
            axum::Json(s.directory.user_json(&base, &doer, &doer)).into_response()
        }
        Err(r) => *r,
    }
}

/// `GET /api/v1/user/teams` (`ListUserTeams`): every team of the doer, with
/// its organisation, `permission` and `units_map`.
pub(crate) async fn user_teams(
    State(e): State<Emulator>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    match user_gate(&e, &method, "/api/v1/user/teams", &headers) {
        Ok((base, doer)) => {
            let s = e.store.lock().expect("store");
            let teams: Vec<Value> = s
                .directory
                .teams
                .iter()
                .filter(|t| t.members.contains(&doer.name))
                .map(|t| s.directory.team_json(&base, t))
                .collect();
            let n = teams.len();
            let mut r = axum::Json(teams).into_response();
            r.headers_mut()
                .insert("x-total-count", HeaderValue::from(n));
            r
        }
        Err(r) => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_is_sql_like_on_lower_case() {
        assert!(like("Web-Cache", "web"));
        assert!(like("webhooks", "B_O"));
        assert!(like("web", ""));
        assert!(!like("api", "web"));
        assert!(like("a-b", "a%b"));
    }

    #[test]
    fn link_header_is_forgejos() {
        let q: BTreeMap<String, String> = [
            ("type".to_string(), "container".to_string()),
            ("limit".into(), "2".into()),
        ]
        .into();
        let h = link_header("http://h", "/api/v1/packages/o", &q, 5, 2, 2);
        assert_eq!(
            h,
            "<http://h/api/v1/packages/o?limit=2&page=3&type=container>; rel=\"next\",<http://h/api/v1/packages/o?limit=2&page=3&type=container>; rel=\"last\",<http://h/api/v1/packages/o?limit=2&page=1&type=container>; rel=\"first\",<http://h/api/v1/packages/o?limit=2&page=1&type=container>; rel=\"prev\""
        );
        assert_eq!(
            link_header("http://h", "/p", &BTreeMap::new(), 0, 30, 0),
            ""
        );
    }
}
