//! An emulator of Forgejo's package API for container images, and of the
//! OCI `/v2` manifest endpoints, held to Forgejo v11.0.10's code (route
//! order, access rules, reply fields): `docs/forgejo-retention/emulator.md`
//! cites the source of each behaviour and lists what is not covered. No
//! Forgejo can run on the build machines, so tests and the demo use this.
//!
//! Covered: `GET /api/v1/user`, `GET /api/v1/user/teams`; `GET
//! /api/v1/packages/{owner}`, `GET`/`DELETE
//! /api/v1/packages/{owner}/{type}/{name}/{version}`, `POST
//! /api/v1/packages/{owner}/{type}/{name}/-/unlink` with Forgejo's order of
//! checks (token, scope, owner, version, read access, public-only, write
//! access); users, organisations, teams with a Packages unit, site admins
//! and token scopes ([`accounts`]); `GET/HEAD /v2/{owner}/{name}/manifests/{ref}`
//! by tag or digest. Container images are stored the way Forgejo stores
//! them: every tag is a package version, and every manifest an index points
//! to is a separate untagged version named by its digest. For tests:
//! injected statuses per path prefix, deletions held after N (to kill a
//! client mid-run), request counting.
//!
//! With [`Emulator::with_registry`] it fronts a REAL registry (Debian's
//! `docker-registry`): pushes go through the distribution API, `/v2` reads
//! are proxied, and a manifest is deleted there with its last version.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub mod accounts;
pub mod bulk;
mod files;
mod manifest;
mod packages_api;
mod rate_limit;
mod upstream;

pub use accounts::{Access, Visibility};
use accounts::{Directory, Token};

pub use manifest::{
    DOCKER_LIST, DOCKER_MANIFEST, Manifest, OCI_INDEX, OCI_MANIFEST, Rendered, digest_of,
};
pub use rate_limit::RetryAfter;
use upstream::Upstream;

/// One package version: a tag or an untagged manifest (`sha256:…`).
#[derive(Debug, Clone)]
pub struct Version {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub created_at: String,
    /// The user who pushed it (`creator` in the API).
    pub creator: String,
}

#[derive(Default)]
pub struct Store {
    /// owner → versions.
    pub versions: BTreeMap<String, Vec<Version>>,
    /// digest → manifest JSON text (in-memory mode only).
    pub manifests: BTreeMap<String, String>,
    next_id: i64,
    /// Status codes to answer the next requests with, each for requests
    /// whose "METHOD /path" starts with its prefix ("" = any request).
    pub fail_next: Vec<(String, u16)>,
    /// Every request as "METHOD /path" (no query), in arrival order.
    pub requests: Vec<String>,
    /// Deletions still allowed to proceed; later ones hang until this is
    /// raised or cleared (to kill a client mid-run deterministically).
    pub delete_budget: Option<usize>,
    /// Rate-limit answers to give, and what they saw (`rate_limit.rs`).
    pub rate_limits: rate_limit::RateLimits,
    /// Users, organisations, teams and tokens.
    pub directory: Directory,
    /// manifest digest → the files of its versions.
    files: BTreeMap<String, Vec<files::PackageFile>>,
    next_file_id: i64,
}

/// A running emulator's shared state.
#[derive(Clone, Default)]
pub struct Emulator {
    pub store: Arc<Mutex<Store>>,
    /// The real registry manifests live in, when fronting one.
    upstream: Option<Upstream>,
}

impl Emulator {
    /// An emulator with nobody in it: add accounts and tokens with
    /// [`Emulator::user`], [`Emulator::org`], [`Emulator::team`] and
    /// [`Emulator::token`].
    pub fn new() -> Emulator {
        Emulator::default()
    }

    /// Like [`Emulator::new`], but manifests are pushed to and served from the
    /// real registry at `registry` (`127.0.0.1:PORT`, plain HTTP): the
    /// emulator keeps only Forgejo's package-version list.
    pub fn with_registry(registry: &str) -> Emulator {
        Emulator {
            upstream: Some(Upstream::new(&format!("http://{registry}"))),
            ..Emulator::new()
        }
    }

    /// Adds a public user.
    pub fn user(self, login: &str) -> Emulator {
        self.store
            .lock()
            .expect("store")
            .directory
            .account(login, false, Visibility::Public);
        self
    }

    /// Adds a user who is a site admin.
    pub fn admin(self, login: &str) -> Emulator {
        self.store
            .lock()
            .expect("store")
            .directory
            .account(login, false, Visibility::Public)
            .is_admin = true;
        self
    }

    /// Adds an organisation.
    pub fn org(self, name: &str, visibility: Visibility) -> Emulator {
        self.store
            .lock()
            .expect("store")
            .directory
            .account(name, true, visibility);
        self
    }

    /// Adds a team of `org` whose `authorize` level is `permission` and whose
    /// Packages unit grants `packages`, with `members` (users added if new).
    pub fn team(
        self,
        org: &str,
        name: &str,
        permission: Access,
        packages: Access,
        members: &[&str],
    ) -> Emulator {
        {
            let mut s = self.store.lock().expect("store");
            for m in members {
                s.directory.account(m, false, Visibility::Public);
            }
            s.directory.team(org, name, permission, packages, members);
        }
        self
    }

    /// Adds an access token of `user` (added if new) with `scopes` as
    /// Forgejo names them (`all`, `write:package`, `read:user`, `public-only`, ...).
    pub fn token(self, secret: &str, user: &str, scopes: &[&str]) -> Emulator {
        {
            let mut s = self.store.lock().expect("store");
            s.directory.account(user, false, Visibility::Public);
            s.directory.tokens.insert(
                secret.to_string(),
                Token {
                    user: user.to_string(),
                    scopes: scopes.iter().map(|x| x.to_string()).collect(),
                },
            );
        }
        self
    }

    fn add_version(
        s: &mut Store,
        owner: &str,
        name: &str,
        version: &str,
        digest: &str,
        created_at: &str,
    ) {
        let list = s.versions.entry(owner.to_string()).or_default();
        if list.iter().any(|v| v.name == name && v.version == version) {
            return;
        }
        s.next_id += 1;
        let id = s.next_id;
        s.versions
            .entry(owner.to_string())
            .or_default()
            .push(Version {
                id,
                name: name.into(),
                version: version.into(),
                digest: digest.into(),
                created_at: created_at.into(),
                creator: owner.into(),
            });
    }

    /// Pushes `m` as `owner/name:tag` created at `created_at` (RFC 3339):
    /// the tag version plus one untagged version per manifest below it, the
    /// way Forgejo records an image. Returns the tag's digest. Panics when
    /// the fronted registry refuses the push (a broken test fixture).
    pub fn push(
        &self,
        owner: &str,
        name: &str,
        tag: &str,
        m: &Manifest,
        created_at: &str,
    ) -> String {
        let r = m.render();
        if let Some(up) = &self.upstream {
            up.push(&format!("{owner}/{name}"), &r, tag)
                .unwrap_or_else(|e| panic!("pushing {owner}/{name}:{tag}: {e}"));
        }
        let mut s = self.store.lock().expect("store");
        for below in r.all() {
            if self.upstream.is_none() {
                s.manifests.insert(below.digest.clone(), below.text.clone());
            }
            if !s.files.contains_key(&below.digest) {
                let mut id = s.next_file_id;
                let listed = files::of_manifest(below, &mut || {
                    id += 1;
                    id
                });
                s.next_file_id = id;
                s.files.insert(below.digest.clone(), listed);
            }
            if below.digest != r.digest {
                Self::add_version(
                    &mut s,
                    owner,
                    name,
                    &below.digest,
                    &below.digest,
                    created_at,
                );
            }
        }
        Self::add_version(&mut s, owner, name, tag, &r.digest, created_at);
        r.digest
    }

    /// Tags an already pushed manifest `digest` as `owner/name:tag`: one new
    /// tag version, as Forgejo records a push of existing bytes under
    /// another tag (nothing new reaches the registry, which `/v2` reads by
    /// digest).
    pub fn tag(&self, owner: &str, name: &str, tag: &str, digest: &str, created_at: &str) {
        let mut s = self.store.lock().expect("store");
        Self::add_version(&mut s, owner, name, tag, digest, created_at);
    }

    /// Removes a version behind the API's back (e.g. the orphaning incident).
    pub fn remove_version(&self, owner: &str, name: &str, version: &str) {
        let mut s = self.store.lock().expect("store");
        if let Some(v) = s.versions.get_mut(owner) {
            v.retain(|x| !(x.name == name && x.version == version));
        }
    }

    /// Whether `owner/name` still has `version`.
    pub fn has_version(&self, owner: &str, name: &str, version: &str) -> bool {
        self.store
            .lock()
            .expect("store")
            .versions
            .get(owner)
            .is_some_and(|v| v.iter().any(|x| x.name == name && x.version == version))
    }

    pub fn versions(&self, owner: &str) -> Vec<Version> {
        self.store
            .lock()
            .expect("store")
            .versions
            .get(owner)
            .cloned()
            .unwrap_or_default()
    }

    pub fn requests(&self) -> Vec<String> {
        self.store.lock().expect("store").requests.clone()
    }

    /// Lets `n` more permitted DELETEs through; the ones after that hang
    /// (answer nothing) until [`Emulator::release_deletes`].
    pub fn hold_deletes_after(&self, n: usize) {
        self.store.lock().expect("store").delete_budget = Some(n);
    }

    pub fn release_deletes(&self) {
        self.store.lock().expect("store").delete_budget = None;
    }

    /// The next requests answer `statuses`, in order.
    pub fn inject(&self, statuses: &[u16]) {
        self.inject_for("", statuses);
    }

    /// The next requests whose "METHOD /path" starts with `prefix` answer
    /// `statuses`, in order (e.g. `"DELETE /api/v1/packages/o/container/web/"`).
    pub fn inject_for(&self, prefix: &str, statuses: &[u16]) {
        self.store
            .lock()
            .expect("store")
            .fail_next
            .extend(statuses.iter().map(|s| (prefix.to_string(), *s)));
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/user", get(packages_api::user))
            .route("/api/v1/user/teams", get(packages_api::user_teams))
            .route("/api/v1/packages/{owner}", get(packages_api::list))
            .route(
                "/api/v1/packages/{owner}/{kind}/{name}/{version}",
                get(packages_api::get_version).delete(packages_api::delete_version),
            )
            .route(
                "/api/v1/packages/{owner}/{kind}/{name}/{version}/files",
                get(packages_api::list_files),
            )
            .route(
                "/api/v1/packages/{owner}/{kind}/{name}/-/unlink",
                post(packages_api::unlink),
            )
            .route("/v2/", get(determine_support))
            .route(
                "/v2/{owner}/{name}/manifests/{reference}",
                get(manifest).head(manifest),
            )
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                rate_limit::layer,
            ))
            .with_state(self.clone())
    }

    /// Serves on 127.0.0.1:`port` (0 = any) in a background thread; returns the base URL.
    pub fn spawn(&self, port: u16) -> String {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind emulator");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let router = self.router();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(l, router).await.expect("serve");
            });
        });
        format!("http://{addr}")
    }

    /// Fault injection and authentication; returns the caller's token.
    fn gate(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<Token, Box<Response>> {
        let mut s = self.store.lock().expect("store");
        let request = format!("{method} {path}");
        s.requests.push(request.clone());
        if let Some(i) = s.fail_next.iter().position(|(p, _)| request.starts_with(p)) {
            let (_, code) = s.fail_next.remove(i);
            return Err(Box::new(
                (
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "injected failure",
                )
                    .into_response(),
            ));
        }
        let auth = headers
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        // Forgejo's /api/v1 takes `token …`, OAuth `Bearer …` and Basic;
        // its /v2 routes take Basic (login:token) or the container JWT from
        // /v2/token (not emulated), never `token …`.
        // Basic: the password is the token and the user name is ignored; or
        // the user name is the token with an empty or `x-oauth-basic`
        // password (Forgejo's services/auth/basic.go).
        let basic = auth.strip_prefix("Basic ").and_then(|b| {
            let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (user, password) = text.split_once(':')?;
            Some(if password.is_empty() || password == "x-oauth-basic" {
                user.to_string()
            } else {
                password.to_string()
            })
        });
        let token = if path.starts_with("/v2") {
            basic
        } else {
            auth.strip_prefix("token ")
                .or_else(|| auth.strip_prefix("Bearer "))
                .map(str::to_string)
                .or(basic)
        };
        token
            .and_then(|t| s.directory.tokens.get(&t).cloned())
            .ok_or_else(|| {
                let base = packages_api::base_of(headers);
                Box::new(if path.starts_with("/v2") {
                    // apiUnauthorizedError (routers/api/packages/container/container.go).
                    let mut r = registry_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
                    if let Ok(v) = HeaderValue::from_str(&format!(
                        "Bearer realm=\"{base}/v2/token\",service=\"container_registry\",scope=\"*\""
                    )) {
                        r.headers_mut().insert("www-authenticate", v);
                    }
                    r
                } else {
                    // reqToken (routers/api/v1/api.go): an unknown token signs nobody in.
                    (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(accounts::api_error(&base, "token is required")),
                    )
                        .into_response()
                })
            })
    }
}

impl Emulator {
    /// Deletes version `gone` of `owner` once admitted: held while the
    /// deletion budget is spent, and the digest goes from the fronted
    /// registry only with its last version.
    async fn remove_admitted(&self, owner: &str, gone: &Version) -> Response {
        let e = self;
        let (name, version) = (gone.name.clone(), gone.version.clone());
        // Only deletions that would delete something are held.
        loop {
            {
                let mut s = e.store.lock().expect("store");
                match &mut s.delete_budget {
                    None => break,
                    Some(0) => {}
                    Some(n) => {
                        *n -= 1;
                        break;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        // The digest goes from the registry only with its last version; the
        // version may have gone while this deletion was held.
        let unreferenced = {
            let s = e.store.lock().expect("store");
            let list = s.versions.get(owner).map(Vec::as_slice).unwrap_or(&[]);
            if !list.iter().any(|v| v.id == gone.id) {
                return (
                    StatusCode::NOT_FOUND,
                    axum::Json(accounts::api_error("", "package does not exist")),
                )
                    .into_response();
            }
            let others = list
                .iter()
                .filter(|v| v.name == name && v.digest == gone.digest)
                .count();
            (others == 1).then(|| gone.digest.clone())
        };
        if let (Some(up), Some(digest)) = (&e.upstream, unreferenced)
            && let Err(err) = up.delete(&format!("{owner}/{name}"), &digest).await
        {
            return (StatusCode::INTERNAL_SERVER_ERROR, err).into_response();
        }
        let mut s = e.store.lock().expect("store");
        if let Some(list) = s.versions.get_mut(owner) {
            list.retain(|v| !(v.name == name && v.version == version));
        }
        StatusCode::NO_CONTENT.into_response()
    }
}

/// `Docker-Distribution-Api-Version`, on every `/v2` answer
/// (`setResponseHeaders`, routers/api/packages/container/container.go).
const DISTRIBUTION_API: &str = "registry/2.0";

/// `apiErrorDefined`: `{"errors":[{"code":…,"message":""}]}` (Forgejo's
/// named errors carry no message unless a handler adds one).
fn registry_error(status: StatusCode, code: &str) -> Response {
    let mut r = (
        status,
        axum::Json(json!({"errors": [{"code": code, "message": ""}]})),
    )
        .into_response();
    r.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static(DISTRIBUTION_API),
    );
    r
}

/// `GET /v2/` (`DetermineSupport` behind `ReqContainerAccess`): 200 with
/// an empty body to a signed-in caller.
async fn determine_support(
    State(e): State<Emulator>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = e.gate(&method, "/v2/", &headers) {
        return *r;
    }
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static(DISTRIBUTION_API),
    );
    r
}

/// `GET`/`HEAD /v2/{owner}/{name}/manifests/{reference}` (`GetManifest`,
/// `HeadManifest`): the stored manifest whatever the `Accept` header (Forgejo
/// does no content negotiation), with `Content-Type`, `Content-Length` (also
/// on HEAD), `Docker-Content-Digest`, `ETag: "digest"` and
/// `Docker-Distribution-Api-Version`; unknown: 404 `MANIFEST_UNKNOWN`.
async fn manifest(
    State(e): State<Emulator>,
    Path((owner, name, reference)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = e.gate(
        &method,
        &format!("/v2/{owner}/{name}/manifests/{reference}"),
        &headers,
    ) {
        return *r;
    }
    // A manifest resolves only while its version (tag or digest) exists.
    let found = {
        let s = e.store.lock().expect("store");
        s.versions.get(&owner).and_then(|l| {
            l.iter()
                .find(|v| v.name == name && (v.version == reference || v.digest == reference))
                .map(|v| (v.digest.clone(), s.manifests.get(&v.digest).cloned()))
        })
    };
    let Some((digest, text)) = found else {
        return registry_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    };
    if let Some(up) = &e.upstream {
        return up
            .manifest(&method, &format!("{owner}/{name}"), &digest, &headers)
            .await;
    }
    let Some(text) = text else {
        return registry_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN");
    };
    let media_type = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|j| j["mediaType"].as_str().map(str::to_string))
        .unwrap_or_default();
    let length = text.len();
    let mut resp = if method == Method::HEAD {
        StatusCode::OK.into_response()
    } else {
        text.into_response()
    };
    let h = resp.headers_mut();
    if let (Ok(ct), Ok(d), Ok(etag)) = (
        HeaderValue::from_str(&media_type),
        HeaderValue::from_str(&digest),
        HeaderValue::from_str(&format!("\"{digest}\"")),
    ) {
        h.insert("content-type", ct);
        h.insert("docker-content-digest", d);
        h.insert("etag", etag);
    }
    h.insert("content-length", HeaderValue::from(length));
    h.insert(
        "docker-distribution-api-version",
        HeaderValue::from_static(DISTRIBUTION_API),
    );
    resp
}

/// A small demo registry: a buildkit-style multi-arch image with an
/// attestation under `latest` and SHA tags, twelve older builds, and a cache tag.
pub fn seed_demo(emu: &Emulator, owner: &str) {
    for i in 0..14 {
        let image = Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![
                Manifest::Image {
                    seed: format!("amd64-{i}"),
                    media_type: OCI_MANIFEST,
                },
                Manifest::Image {
                    seed: format!("arm64-{i}"),
                    media_type: OCI_MANIFEST,
                },
                Manifest::Attestation {
                    seed: format!("att-{i}"),
                },
            ],
        };
        let created = format!("2026-10-{:02}T12:00:00Z", i + 1);
        emu.push(owner, "web", &format!("sha-{i:04x}"), &image, &created);
        if i == 13 {
            emu.push(owner, "web", "latest", &image, &created);
        }
    }
    let cache = Manifest::Image {
        seed: "cache".into(),
        media_type: OCI_MANIFEST,
    };
    emu.push(owner, "web", "buildcache", &cache, "2026-09-01T00:00:00Z");
}
