//! `/v2` as Forgejo v11.0.10's container registry answers it
//! (routers/api/packages/container/container.go): `GET /v2/`, manifests
//! by tag and digest whatever `Accept` says, HEAD with the manifest's
//! `Content-Length`, `ETag` and `Docker-Distribution-Api-Version`, and
//! Forgejo's error bodies.

use forgejo_emulator::{Emulator, Manifest, OCI_INDEX, OCI_MANIFEST};
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

const TOKEN: &str = "t0ken";

fn send(method: reqwest::Method, url: &str, auth: bool, accept: Option<&str>) -> Response {
    let mut r = Client::new().request(method, url);
    if auth {
        r = r.basic_auth("anyone", Some(TOKEN));
    }
    if let Some(a) = accept {
        r = r.header("Accept", a);
    }
    r.send().unwrap()
}

fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn v2_answers_like_forgejo() {
    let emu = Emulator::new().token(TOKEN, "homelab", &["read:package"]);
    let index = Manifest::Index {
        media_type: OCI_INDEX,
        children: vec![Manifest::Image {
            seed: "x".into(),
            media_type: OCI_MANIFEST,
        }],
    };
    let digest = emu.push("homelab", "web", "latest", &index, "2026-11-01T00:00:00Z");
    let base = emu.spawn(0);

    // GET /v2/: 200, empty, the API version header; unauthenticated 401.
    let r = send(reqwest::Method::GET, &format!("{base}/v2/"), true, None);
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(r.text().unwrap(), "");
    let r = send(reqwest::Method::GET, &format!("{base}/v2/"), false, None);
    assert_eq!(r.status(), 401);
    assert_eq!(
        header(&r, "www-authenticate"),
        format!("Bearer realm=\"{base}/v2/token\",service=\"container_registry\",scope=\"*\"")
    );
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"errors": [{"code": "UNAUTHORIZED", "message": ""}]})
    );

    // The stored manifest, whatever Accept asks for.
    let url = format!("{base}/v2/homelab/web/manifests/latest");
    let get = send(
        reqwest::Method::GET,
        &url,
        true,
        Some("application/vnd.docker.distribution.manifest.v1+json"),
    );
    assert_eq!(get.status(), 200);
    assert_eq!(header(&get, "content-type"), OCI_INDEX);
    assert_eq!(header(&get, "docker-content-digest"), digest);
    assert_eq!(header(&get, "etag"), format!("\"{digest}\""));
    assert_eq!(
        header(&get, "docker-distribution-api-version"),
        "registry/2.0"
    );
    let body = get.bytes().unwrap();
    // HEAD: the same headers, the manifest's length, no body.
    let head = send(reqwest::Method::HEAD, &url, true, None);
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-length"), body.len().to_string());
    assert_eq!(header(&head, "docker-content-digest"), digest);
    assert_eq!(header(&head, "etag"), format!("\"{digest}\""));
    // By digest too.
    let r = send(
        reqwest::Method::GET,
        &format!("{base}/v2/homelab/web/manifests/{digest}"),
        true,
        None,
    );
    assert_eq!(r.status(), 200);

    // Unknown: 404 MANIFEST_UNKNOWN.
    let r = send(
        reqwest::Method::GET,
        &format!("{base}/v2/homelab/web/manifests/nope"),
        true,
        None,
    );
    assert_eq!(r.status(), 404);
    assert_eq!(
        header(&r, "docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(
        r.json::<Value>().unwrap(),
        json!({"errors": [{"code": "MANIFEST_UNKNOWN", "message": ""}]})
    );
}
