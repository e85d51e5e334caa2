//! Fronting a real OCI registry (Debian's `docker-registry`, distribution
//! 2.8): pushes go through the distribution API (blob upload, manifest PUT),
//! `/v2` manifest reads are proxied to it, and a manifest is deleted from
//! it when its last package version goes. The registry then holds exactly
//! what the emulated Forgejo would serve, and tests can check it directly.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::manifest::Rendered;

#[derive(Clone)]
pub struct Upstream {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    http: reqwest::Client,
}

fn check(what: &str, r: reqwest::blocking::Response, want: u16) -> Result<(), String> {
    if r.status().as_u16() == want {
        Ok(())
    } else {
        let status = r.status();
        let body: String = r.text().unwrap_or_default().chars().take(300).collect();
        Err(format!("{what}: registry answered {status}: {body}"))
    }
}

impl Upstream {
    pub fn new(base: &str) -> Upstream {
        Upstream {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Pushes `r` (children and blobs first) and tags it `tag` in `repo`.
    /// Blocking: called from test threads, never from the server's runtime.
    pub fn push(&self, repo: &str, r: &Rendered, tag: &str) -> Result<(), String> {
        let http = reqwest::blocking::Client::new();
        for m in r.all() {
            for blob in &m.blobs {
                self.blob(&http, repo, blob)?;
            }
            self.put_manifest(&http, repo, m, &m.digest)?;
        }
        self.put_manifest(&http, repo, r, tag)
    }

    fn blob(
        &self,
        http: &reqwest::blocking::Client,
        repo: &str,
        bytes: &[u8],
    ) -> Result<(), String> {
        let digest = crate::manifest::digest_of(bytes);
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.base);
        if http.head(&url).send().map_err(|e| e.to_string())?.status() == StatusCode::OK {
            return Ok(());
        }
        let start = http
            .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
            .send()
            .map_err(|e| e.to_string())?;
        let location = start
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| format!("blob upload to {repo}: no Location ({})", start.status()))?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let done = http
            .put(format!("{location}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .map_err(|e| e.to_string())?;
        check(&format!("blob {digest} to {repo}"), done, 201)
    }

    fn put_manifest(
        &self,
        http: &reqwest::blocking::Client,
        repo: &str,
        m: &Rendered,
        reference: &str,
    ) -> Result<(), String> {
        let r = http
            .put(format!("{}/v2/{repo}/manifests/{reference}", self.base))
            .header("content-type", m.media_type)
            .body(m.text.clone())
            .send()
            .map_err(|e| e.to_string())?;
        let served = r
            .headers()
            .get("docker-content-digest")
            .and_then(|d| d.to_str().ok())
            .unwrap_or_default()
            .to_string();
        check(&format!("manifest {repo}:{reference}"), r, 201)?;
        if served != m.digest {
            return Err(format!(
                "manifest {repo}:{reference}: registry digest {served} is not ours ({})",
                m.digest
            ));
        }
        Ok(())
    }

    /// The registry's answer to a manifest read by digest, passed through
    /// (status, content type, `Docker-Content-Digest`, body).
    pub async fn manifest(
        &self,
        method: &Method,
        repo: &str,
        digest: &str,
        headers: &HeaderMap,
    ) -> Response {
        let mut req = self.http.request(
            method.clone(),
            format!("{}/v2/{repo}/manifests/{digest}", self.base),
        );
        if let Some(a) = headers.get("accept") {
            req = req.header("accept", a.clone());
        }
        let r = match req.send().await {
            Ok(r) => r,
            Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        };
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut out = HeaderMap::new();
        for h in ["content-type", "docker-content-digest"] {
            if let Some(v) = r
                .headers()
                .get(h)
                .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
            {
                out.insert(h, v);
            }
        }
        let body = r.bytes().await.unwrap_or_default();
        (status, out, body).into_response()
    }

    /// Deletes a manifest by digest; Ok when gone (202, or 404: already gone).
    pub async fn delete(&self, repo: &str, digest: &str) -> Result<(), String> {
        let r = self
            .http
            .delete(format!("{}/v2/{repo}/manifests/{digest}", self.base))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match r.status().as_u16() {
            202 | 404 => Ok(()),
            s => Err(format!("registry DELETE {repo}@{digest} answered {s}")),
        }
    }
}
