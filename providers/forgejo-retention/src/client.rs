//! Forgejo package API + OCI manifest client. The token goes in the
//! `Authorization: token …` header only; never logged, never in errors.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::{Client as Http, Response};
use serde_json::Value;

use crate::graph::Package;

/// Every manifest media type we read, so the registry answers indexes,
/// Docker manifest lists and single manifests alike.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

pub struct Client {
    pub base: String,
    token: String,
    http: Http,
    retries: u32,
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

impl Client {
    pub fn new(base: &str, token: &str, timeout: Duration, retries: u32) -> Result<Client, String> {
        let http = Http::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            http,
            retries,
        })
    }

    /// One request, retried only on connection errors and 5xx.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response, String> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", format!("token {}", self.token));
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            match req.send() {
                Ok(r) if r.status().is_server_error() && attempt <= self.retries => {}
                Ok(r) => return Ok(r),
                Err(_) if attempt <= self.retries => {}
                Err(e) => return Err(format!("{method} {path}: {e}")),
            }
            std::thread::sleep(Duration::from_millis(100 << attempt.min(4)));
        }
    }

    pub fn whoami(&self) -> Result<String, String> {
        let r = self.send(reqwest::Method::GET, "/api/v1/user", None)?;
        if !r.status().is_success() {
            return Err(format!(
                "GET /api/v1/user answered {}: the token is not valid",
                r.status()
            ));
        }
        Ok(r.json::<Value>().map_err(|e| e.to_string())?["login"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Every container version of `owner`, all pages; `package` filters by
    /// EXACT name (the API's `q` is a substring match).
    pub fn list(&self, owner: &str, package: Option<&str>) -> Result<Vec<Listed>, String> {
        let mut out = Vec::new();
        let q = package.unwrap_or("");
        for page in 1.. {
            let r = self.send(
                reqwest::Method::GET,
                &format!("/api/v1/packages/{owner}?type=container&q={q}&limit=50&page={page}"),
                None,
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
            out.extend(
                items
                    .into_iter()
                    .filter(|i| package.is_none_or(|p| i["name"] == p))
                    .map(|i| Listed {
                        name: i["name"].as_str().unwrap_or_default().to_string(),
                        version: i["version"].as_str().unwrap_or_default().to_string(),
                        created_at: unix(i["created_at"].as_str().unwrap_or_default()),
                    }),
            );
            if n < 50 || page * 50 >= total {
                break;
            }
        }
        Ok(out)
    }

    /// A manifest by tag or digest: (digest, media type, JSON), None on 404.
    pub fn manifest(
        &self,
        owner: &str,
        name: &str,
        reference: &str,
    ) -> Result<Option<(String, Value)>, String> {
        let r = self.send(
            reqwest::Method::GET,
            &format!("/v2/{owner}/{name}/manifests/{reference}"),
            Some(ACCEPT),
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
        Ok(Some((digest, r.json().map_err(|e| e.to_string())?)))
    }

    /// DELETE of one version: Ok(status).
    pub fn delete(&self, owner: &str, name: &str, version: &str) -> Result<u16, String> {
        Ok(self
            .send(
                reqwest::Method::DELETE,
                &format!("/api/v1/packages/{owner}/container/{name}/{version}"),
                None,
            )?
            .status()
            .as_u16())
    }

    /// Whether the token may delete in `owner`, without deleting anything:
    /// Forgejo checks write access before looking the version up, so a
    /// DELETE of a version that cannot exist answers 404 only when allowed.
    pub fn can_delete(&self, owner: &str) -> Result<(), String> {
        match self.delete(owner, "tf-retention-permission-probe", "never-exists")? {
            404 => Ok(()),
            s => Err(format!(
                "the token may not delete packages of {owner:?} (probe DELETE answered {s}); a dry run with this token would hide that"
            )),
        }
    }

    /// The reference graphs of `owner`'s packages: one manifest fetch per tag
    /// (plus one per nested index).
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
        for p in pkgs.values_mut() {
            let tags: Vec<String> = p.tags.keys().cloned().collect();
            for tag in tags {
                let Some((digest, m)) = self.manifest(owner, &p.name, &tag)? else {
                    continue;
                };
                let created = p.tags[&tag].1;
                p.tags.insert(tag, (digest.clone(), created));
                let name = p.name.clone();
                self.walk(owner, &name, &digest, &m, p)?;
            }
        }
        Ok(pkgs.into_values().collect())
    }

    fn walk(
        &self,
        owner: &str,
        name: &str,
        digest: &str,
        m: &Value,
        p: &mut Package,
    ) -> Result<(), String> {
        let Some(entries) = m["manifests"].as_array() else {
            return Ok(());
        };
        if p.children.contains_key(digest) {
            return Ok(());
        }
        let kids: Vec<(String, String)> = entries
            .iter()
            .map(|e| {
                (
                    e["digest"].as_str().unwrap_or_default().to_string(),
                    e["mediaType"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        p.children.insert(
            digest.to_string(),
            kids.iter().map(|(d, _)| d.clone()).collect(),
        );
        for (d, mt) in kids {
            if (mt.contains("index") || mt.contains("manifest.list"))
                && let Some((_, child)) = self.manifest(owner, name, &d)?
            {
                self.walk(owner, name, &d, &child, p)?;
            }
        }
        Ok(())
    }
}
