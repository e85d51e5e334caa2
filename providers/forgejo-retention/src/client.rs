//! Forgejo package API + OCI manifest client. The token goes in the
//! `Authorization` header only (`token …` on `/api/v1`; Basic on `/v2`,
//! where Forgejo takes Basic or its own JWT but not `token …`); never
//! logged, never in errors.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use infra_clients::retry::{Backoff, Verdict, retry_after};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use serde_json::Value;

use crate::graph::Package;

/// Every manifest media type we read, so the registry answers indexes,
/// Docker manifest lists and single manifests alike.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The user name sent with the token on `/v2` (Forgejo ignores it).
const BASIC_USER: &str = "forgejo-retention";

/// Page size of version listings: Forgejo's default `MAX_RESPONSE_ITEMS`.
const PAGE: usize = 50;

/// All the waiting one request may do between its attempts (backoff and
/// `Retry-After` together); a longer asked wait is reported at once.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(60);

/// How the client talks to Forgejo; the provider block sets these.
#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    /// Retries of connection errors, 5xx and rate limits (429) only.
    pub retries: u32,
    /// Where `/v2` lives when not on the API host (e.g. a registry-only hostname).
    pub registry_url: Option<String>,
    /// Extra PEM CA certificate(s) trusted for both hosts.
    pub ca_pem: Option<Vec<u8>>,
    /// Manifest fetches in flight at once.
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(30),
            retries: 3,
            registry_url: None,
            ca_pem: None,
            concurrency: 8,
        }
    }
}

pub struct Client {
    pub base: String,
    registry: String,
    token: String,
    http: Http,
    backoff: Backoff,
    concurrency: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.base)
    }
}

/// A listed package version.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub version: String,
    pub created_at: i64,
}

fn unix(ts: &str) -> i64 {
    time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .unwrap_or(0)
}

/// The wait a response's `Retry-After` asks for, if it has a usable one.
fn asked_wait(r: &Response) -> Option<Duration> {
    let v = r.headers().get(reqwest::header::RETRY_AFTER)?;
    retry_after(v.to_str().ok()?, SystemTime::now())
}

/// Names in URL paths come from Forgejo's own answers or HCL; refuse anything
/// that could change the path (Forgejo's names are `[A-Za-z0-9._/-]`, tags
/// `[A-Za-z0-9._-]`, digests `sha256:hex`).
pub(crate) fn path_safe(what: &str, s: &str) -> Result<(), String> {
    if !s.is_empty()
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:/".contains(c))
    {
        Ok(())
    } else {
        Err(format!("refusing {what} {s:?}: not a valid Forgejo name"))
    }
}

/// A manifest body as fetched from `/v2` (registry input: any bytes). Only
/// a JSON object is a manifest.
pub fn parse_manifest(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the manifest is not a JSON object".to_string()),
        Err(e) => Err(format!("the manifest is not valid JSON: {e}")),
    }
}

/// The children (digest, media type) an image index or Docker manifest
/// list names in `manifests`; None for a single-image manifest. Fails
/// closed: an index whose child list cannot be read is an error, never a
/// leaf (its children would look unreferenced and become candidates), and
/// a child whose digest could change a URL path is refused.
pub fn index_children(m: &Value) -> Result<Option<Vec<(String, String)>>, String> {
    let is_index = m["mediaType"]
        .as_str()
        .is_some_and(|t| t.contains("index") || t.contains("manifest.list"));
    let entries = match m.get("manifests") {
        Some(Value::Array(entries)) => entries,
        None if !is_index => return Ok(None),
        _ => return Err("an image index without a readable `manifests` list".to_string()),
    };
    let mut kids = Vec::new();
    for e in entries {
        let d = e["digest"].as_str().unwrap_or_default().to_string();
        path_safe("child digest", &d)?;
        kids.push((d, e["mediaType"].as_str().unwrap_or_default().to_string()));
    }
    Ok(Some(kids))
}

impl Client {
    pub fn new(base: &str, token: &str, o: &Options) -> Result<Client, String> {
        let mut b = Http::builder().timeout(o.timeout);
        if let Some(pem) = &o.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("the CA certificate is not valid PEM: {e}"))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        let http = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        let base = base.trim_end_matches('/').to_string();
        Ok(Client {
            registry: o
                .registry_url
                .as_deref()
                .map(|r| r.trim_end_matches('/').to_string())
                .unwrap_or_else(|| base.clone()),
            base,
            token: token.to_string(),
            http,
            backoff: Backoff {
                retries: o.retries,
                base: Duration::from_millis(200),
                max_wait: RATE_LIMIT_BUDGET,
            },
            concurrency: o.concurrency.max(1),
        })
    }

    /// One request, retried only on connection errors, 5xx and rate limits.
    /// A rate limit (429, or 503 with `Retry-After`, as a reverse proxy in
    /// front of Forgejo answers) is retried after the wait it names, within
    /// [`RATE_LIMIT_BUDGET`]; still limited after that is an error naming
    /// the limit (a throttled request was not processed, so this holds for
    /// DELETE too). Other statuses go back to the caller.
    fn send(&self, what: &str, req: impl Fn() -> RequestBuilder) -> Result<Response, String> {
        let finished = self.backoff.run_limited(
            |_| req().send(),
            |r| match r {
                Err(_) => Verdict::Transient,
                Ok(r) => match r.status().as_u16() {
                    429 => Verdict::RateLimited(asked_wait(r)),
                    503 => {
                        asked_wait(r).map_or(Verdict::Transient, |w| Verdict::RateLimited(Some(w)))
                    }
                    s if s >= 500 => Verdict::Transient,
                    _ => Verdict::Done,
                },
            },
        );
        let attempts = finished.attempts;
        let r = finished.result.map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| c.to_string())
                .unwrap_or_else(|| e.to_string());
            format!("{what}: no answer after {attempts} attempt(s): {cause}")
        })?;
        let status = r.status().as_u16();
        let asked = asked_wait(&r);
        if status == 429 || (status == 503 && asked.is_some()) {
            let asked_text = asked
                .map(|a| format!(", Retry-After {}s", a.as_secs()))
                .unwrap_or_default();
            let refused = if finished.refused_wait.is_some() {
                format!(
                    ": the wait it asked for is more than the {}s this provider waits per request",
                    RATE_LIMIT_BUDGET.as_secs()
                )
            } else {
                String::new()
            };
            return Err(format!(
                "{what}: Forgejo is rate limiting this client (HTTP {status}{asked_text}) and still was after {attempts} attempt(s){refused}; lower `concurrency` / `deletes_per_second` or raise the limit"
            ));
        }
        Ok(r)
    }

    /// One `/api/v1` request with the token (also used by [`crate::permission`]).
    pub(crate) fn api(&self, method: reqwest::Method, path: &str) -> Result<Response, String> {
        let url = format!("{}{path}", self.base);
        self.send(&format!("{method} {path}"), || {
            self.http
                .request(method.clone(), &url)
                .header("Authorization", format!("token {}", self.token))
        })
    }

    /// Every container version of `owner`, all pages; `package` filters by
    /// EXACT name (the API's `q` is a substring match).
    pub fn list(&self, owner: &str, package: Option<&str>) -> Result<Vec<Listed>, String> {
        path_safe("owner", owner)?;
        let q = package.unwrap_or("");
        if !q.is_empty() {
            path_safe("package", q)?;
        }
        let mut out = Vec::new();
        for page in 1.. {
            let r = self.api(
                reqwest::Method::GET,
                &format!("/api/v1/packages/{owner}?type=container&q={q}&limit={PAGE}&page={page}"),
            )?;
            if !r.status().is_success() {
                return Err(format!("listing packages of {owner:?}: {}", r.status()));
            }
            let total: usize = r
                .headers()
                .get("x-total-count")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let items: Vec<Value> = r
                .json()
                .map_err(|e| format!("listing packages of {owner:?}: {e}"))?;
            let n = items.len();
            for i in items {
                let name = i["name"].as_str().unwrap_or_default();
                if package.is_some_and(|p| name != p) {
                    continue;
                }
                let version = i["version"].as_str().unwrap_or_default();
                path_safe("package name", name)?;
                path_safe("version", version)?;
                out.push(Listed {
                    name: name.to_string(),
                    version: version.to_string(),
                    created_at: unix(i["created_at"].as_str().unwrap_or_default()),
                });
            }
            if n < PAGE || page * PAGE >= total {
                break;
            }
        }
        Ok(out)
    }

    /// A `/v2` request. Forgejo's Basic auth ignores the user name when the
    /// password is a valid access token (services/auth/basic.go), so no
    /// login lookup is needed, nor the `read:user` scope it would take.
    fn registry_request(&self, method: reqwest::Method, path: &str) -> Result<Response, String> {
        let url = format!("{}{path}", self.registry);
        self.send(&format!("{method} {path}"), || {
            self.http
                .request(method.clone(), &url)
                .basic_auth(BASIC_USER, Some(&self.token))
                .header("Accept", ACCEPT)
        })
    }

    /// A manifest by tag or digest: (digest, JSON), None on 404.
    pub fn manifest(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<Option<(String, Value)>, String> {
        let r = self.registry_request(
            reqwest::Method::GET,
            &format!("/v2/{owner}/{name}/manifests/{reference}"),
        )?;
        if r.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !r.status().is_success() {
            return Err(format!(
                "manifest {owner}/{name}:{reference}: {}",
                r.status()
            ));
        }
        let digest = r
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(reference)
            .to_string();
        path_safe("digest", &digest)?;
        let body = r
            .bytes()
            .map_err(|e| format!("manifest {owner}/{name}:{reference}: {e}"))?;
        let m = parse_manifest(&body)
            .map_err(|e| format!("manifest {owner}/{name}:{reference}: {e}"))?;
        Ok(Some((digest, m)))
    }

    /// Whether a manifest answers (HEAD), without downloading it.
    pub fn resolves(&self, owner: &str, name: &str, reference: &str) -> Result<bool, String> {
        let r = self.registry_request(
            reqwest::Method::HEAD,
            &format!("/v2/{owner}/{name}/manifests/{reference}"),
        )?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(format!("HEAD {owner}/{name}:{reference} answered {s}")),
        }
    }

    /// DELETE of one version: Ok(status).
    pub fn delete(&self, owner: &str, name: &str, version: &str) -> Result<u16, String> {
        Ok(self
            .api(
                reqwest::Method::DELETE,
                &format!("/api/v1/packages/{owner}/container/{name}/{version}"),
            )?
            .status()
            .as_u16())
    }

    /// Runs `f` over `items` on up to `concurrency` threads; results in
    /// input order, one per item (a panicking `f` panics here).
    pub fn parallel<I: Sync, T: Send>(&self, items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
        let next = AtomicUsize::new(0);
        let mut done: Vec<(usize, T)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..self.concurrency.min(items.len()))
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else {
                                return mine;
                            };
                            mine.push((i, f(item)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        done.sort_unstable_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, t)| t).collect()
    }

    /// The reference graphs of `owner`'s packages: one manifest fetch per tag
    /// (plus one per nested index), `concurrency` at a time.
    pub fn graphs(&self, owner: &str, package: Option<&str>) -> Result<Vec<Package>, String> {
        let mut pkgs: BTreeMap<String, Package> = BTreeMap::new();
        for v in self.list(owner, package)? {
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
            self.parallel(&work, |(name, tag)| -> Result<Fetched, String> {
                let Some((digest, m)) = self.manifest(owner, name, tag)? else {
                    return Ok(None);
                };
                let mut edges = Vec::new();
                self.walk(owner, name, &digest, &m, &mut edges)?;
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

    /// Collects the child edges of index `digest` (and of nested indexes).
    fn walk(
        &self,
        owner: &str,
        name: &str,
        digest: &str,
        m: &Value,
        edges: &mut Vec<(String, Vec<String>)>,
    ) -> Result<(), String> {
        let Some(kids) = index_children(m)? else {
            return Ok(());
        };
        if edges.iter().any(|(d, _)| d == digest) {
            return Ok(());
        }
        edges.push((
            digest.to_string(),
            kids.iter().map(|(d, _)| d.clone()).collect(),
        ));
        for (d, mt) in kids {
            if (mt.contains("index") || mt.contains("manifest.list"))
                && let Some((_, child)) = self.manifest(owner, name, &d)?
            {
                self.walk(owner, name, &d, &child, edges)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_input_order_and_runs_every_item_once() {
        let c = Client::new("http://127.0.0.1:9", "t", &Options::default()).unwrap();
        let items: Vec<u64> = (0..500).collect();
        assert_eq!(
            c.parallel(&items, |x| x * x),
            items.iter().map(|x| x * x).collect::<Vec<_>>()
        );
        assert!(c.parallel(&[] as &[u64], |x| *x).is_empty());
    }

    #[test]
    fn manifests_parse_fail_closed() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ab","size":1}]}"#;
        let kids = index_children(&parse_manifest(index).unwrap()).unwrap();
        assert_eq!(
            kids,
            Some(vec![(
                "sha256:ab".to_string(),
                "application/vnd.oci.image.manifest.v1+json".to_string()
            )])
        );
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(index_children(&parse_manifest(image).unwrap()), Ok(None));
        for bad in [&b""[..], b"[]", b"null", b"\"x\"", b"{", b"\xff\xfe"] {
            assert!(parse_manifest(bad).is_err(), "{bad:?}");
        }
        for hostile in [
            r#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
            r#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":{}}"#,
            r#"{"manifests":null}"#,
            r#"{"manifests":[{"digest":"../../admin"}]}"#,
            r#"{"manifests":[{"size":1}]}"#,
            r#"{"manifests":[7]}"#,
        ] {
            let m = parse_manifest(hostile.as_bytes()).unwrap();
            assert!(index_children(&m).is_err(), "{hostile}");
        }
    }

    #[test]
    fn names_that_could_change_a_url_path_are_refused() {
        for ok in ["web", "team/web", "sha256:ab12", "v1.2-rc_3"] {
            assert!(path_safe("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "../admin", "a?b", "a b", "a#b", "a%2f", "é"] {
            assert!(path_safe("x", bad).is_err(), "{bad}");
        }
    }
}
