//! The Forgejo package API and the OCI `/v2` registry, each on an
//! [`infra_clients::rest::RestClient`]: the API with `Authorization: token
//! …`, `/v2` with Basic (Forgejo takes Basic or its own JWT there, not
//! `token …`) and redirects followed, as registries redirect reads. The
//! token is in a sensitive header only: never logged, never in errors.
//! Callers read statuses themselves (`execute`); the shared client retries
//! connection errors, 5xx of idempotent requests and rate limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use infra_clients::error::safe_text;
use infra_clients::rest::{Auth, Config, Request, RestClient, RestError};
use infra_clients::retry::Backoff;
use reqwest::Method;
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, HeaderValue};
use serde_json::Value;

use crate::manifest::{self, parse_manifest};
use crate::names::path_safe;

/// The user name sent with the token on `/v2` (Forgejo ignores it).
const BASIC_USER: &str = "forgejo-retention";

/// Page size of version listings: Forgejo's default `MAX_RESPONSE_ITEMS`.
const PAGE: usize = 50;

/// All the waiting one request may do between its attempts (backoff and
/// `Retry-After` together); a longer asked wait is reported at once.
pub const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(60);

/// Longest excerpt of Forgejo's text (a `message`, a login, a team name)
/// quoted in a diagnostic.
const MESSAGE_CHARS: usize = 300;

/// The shortest token [`Client::clean`] redacts.
const MIN_REDACTED_TOKEN: usize = 8;

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

/// The package API and `/v2` of one Forgejo.
pub struct Client {
    api: RestClient,
    registry: RestClient,
    /// The token, only to redact it from text Forgejo sends back.
    token: String,
    concurrency: usize,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", self.api.base())
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

/// The diagnostic text of a request that got no usable answer. A rate
/// limit keeps the words that tell the user what to change.
fn failed(e: RestError) -> String {
    match e {
        RestError::RateLimited {
            what,
            status,
            attempts,
            asked,
            refused,
        } => {
            let asked = asked
                .map(|a| format!(", Retry-After {}s", a.as_secs()))
                .unwrap_or_default();
            let refused = if refused {
                format!(
                    ": the wait it asked for is more than the {}s this provider waits per request",
                    RATE_LIMIT_BUDGET.as_secs()
                )
            } else {
                String::new()
            };
            format!(
                "{what}: Forgejo is rate limiting this client (HTTP {status}{asked}) and still was after {attempts} attempt(s){refused}; lower `concurrency` / `deletes_per_second` or raise the limit"
            )
        }
        other => other.to_string(),
    }
}

impl Client {
    /// Clients of `base` (and of `registry_url` for `/v2`) with `token`.
    /// Fails on a CA file without a usable certificate, or a token that
    /// cannot be sent in a header.
    pub fn new(base: &str, token: &str, o: &Options) -> Result<Client, String> {
        let config = |url: &str, auth: Auth| Config {
            ca_pem: o.ca_pem.clone(),
            timeout: o.timeout,
            backoff: Backoff {
                retries: o.retries,
                base: Duration::from_millis(200),
                max_wait: RATE_LIMIT_BUDGET,
            },
            ..Config::new(url, auth)
        };
        let api = RestClient::new(&config(base, Auth::Token(token.to_string())))
            .map_err(|e| e.to_string())?;
        let registry = RestClient::new(&Config {
            follow_redirects: true,
            ..config(
                o.registry_url.as_deref().unwrap_or(base),
                Auth::Basic {
                    user: BASIC_USER.to_string(),
                    password: token.to_string(),
                },
            )
        })
        .map_err(|e| e.to_string())?;
        Ok(Client {
            api,
            registry,
            token: token.to_string(),
            concurrency: o.concurrency.max(1),
        })
    }

    /// One `/api/v1` request with the token; any final status is returned.
    fn api(&self, req: &Request<'_>, what: &str) -> Result<Response, String> {
        self.api.execute(req, what).map_err(failed)
    }

    /// One `/api/v1` request's status and JSON body (Null when it has
    /// none), for [`crate::permission`]. `idempotent`: the request may be
    /// repeated after a failure that may have reached Forgejo (a 5xx, a
    /// reset).
    pub fn call(
        &self,
        method: Method,
        path: &str,
        idempotent: bool,
    ) -> Result<(u16, Value), String> {
        let req = Request::new(method.clone(), path).idempotent(idempotent);
        let r = self.api(&req, &format!("{method} {path}"))?;
        let status = r.status().as_u16();
        Ok((status, r.json().unwrap_or(Value::Null)))
    }

    /// Text Forgejo sent, safe for a diagnostic: printable, capped, the
    /// token redacted. Only a token of [`MIN_REDACTED_TOKEN`] characters or
    /// more is looked for: Forgejo's are 40 hex characters, and replacing
    /// every occurrence of a string of one or two letters would garble the
    /// text without hiding anything.
    pub fn clean(&self, text: &str) -> String {
        let secrets: &[&str] = if self.token.chars().count() >= MIN_REDACTED_TOKEN {
            &[&self.token]
        } else {
            &[]
        };
        safe_text(text, MESSAGE_CHARS, secrets)
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
            let path =
                format!("/api/v1/packages/{owner}?type=container&q={q}&limit={PAGE}&page={page}");
            let r = self.api(&Request::new(Method::GET, &path), &format!("GET {path}"))?;
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

    /// A `/v2` request for a manifest. Forgejo's Basic auth ignores the
    /// user name when the password is a valid access token
    /// (services/auth/basic.go), so no login lookup is needed, nor the
    /// `read:user` scope it would take.
    fn manifest_request(
        &self,
        method: Method,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<Response, String> {
        let path = format!("/v2/{owner}/{name}/manifests/{reference}");
        let req = Request::new(method.clone(), &path)
            .header(ACCEPT, HeaderValue::from_static(manifest::ACCEPT));
        self.registry
            .execute(&req, &format!("{method} {path}"))
            .map_err(failed)
    }

    /// A manifest by tag or digest: (digest, JSON), None on 404.
    pub fn manifest(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<Option<(String, Value)>, String> {
        let r = self.manifest_request(Method::GET, owner, name, reference)?;
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
        let r = self.manifest_request(Method::HEAD, owner, name, reference)?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            s => Err(format!("HEAD {owner}/{name}:{reference} answered {s}")),
        }
    }

    /// DELETE of one version: Ok(status).
    pub fn delete(&self, owner: &str, name: &str, version: &str) -> Result<u16, String> {
        let path = format!("/api/v1/packages/{owner}/container/{name}/{version}");
        let r = self.api(
            &Request::new(Method::DELETE, &path),
            &format!("DELETE {path}"),
        )?;
        Ok(r.status().as_u16())
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
    fn a_ca_file_without_a_certificate_is_refused() {
        let o = Options {
            ca_pem: Some(b"not a certificate\n".to_vec()),
            ..Options::default()
        };
        let e = Client::new("https://127.0.0.1:9", "t", &o).unwrap_err();
        assert!(e.contains("holds no PEM certificate"), "{e}");
    }
}
