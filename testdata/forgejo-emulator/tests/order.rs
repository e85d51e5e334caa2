//! The emulator answers the package routes in Forgejo v11.0.10's order of
//! checks (token → scope → owner → version → read access → public-only →
//! write access → handler) with Forgejo's statuses and error bodies, and
//! lists versions as Forgejo does (newest first, `q` as a case-insensitive
//! LIKE, `limit` ≤ 0 → 30, absolute `Link` with every query parameter).

use forgejo_emulator::{Access, Emulator, Manifest, OCI_MANIFEST, Visibility};
use serde_json::Value;

fn image(seed: &str) -> Manifest {
    Manifest::Image {
        seed: seed.into(),
        media_type: OCI_MANIFEST,
    }
}

fn world() -> (Emulator, String) {
    let emu = Emulator::new()
        .user("viktor")
        .org("platform", Visibility::Public)
        .org("hidden", Visibility::Private)
        .team(
            "platform",
            "Owners",
            Access::Owner,
            Access::Owner,
            &["viktor"],
        )
        .team(
            "platform",
            "builders",
            Access::Read,
            Access::Write,
            &["builder"],
        )
        .team(
            "platform",
            "readers",
            Access::Read,
            Access::Read,
            &["reader"],
        )
        // A team that may write code has write on packages too, whatever its
        // Packages unit (GetOrgUserMaxAuthorizeLevel comes first).
        .team("platform", "devs", Access::Write, Access::None, &["dev"])
        .team(
            "hidden",
            "Owners",
            Access::Owner,
            Access::Owner,
            &["viktor"],
        )
        .admin("root")
        .token("viktor", "viktor", &["write:package"])
        .token("viktor-ro", "viktor", &["read:package"])
        .token("viktor-user", "viktor", &["read:user"])
        .token("viktor-public", "viktor", &["write:package", "public-only"])
        .token("pusher", "ci-pusher", &["all"])
        .token("builder", "builder", &["write:package"])
        .token("reader", "reader", &["write:package"])
        .token("dev", "dev", &["write:package"])
        .token("root", "root", &["write:package"]);
    for owner in ["viktor", "platform", "hidden"] {
        emu.push(owner, "web", "v1", &image("a"), "2026-10-01T00:00:00Z");
    }
    let url = emu.spawn(0);
    (emu, url)
}

fn call(method: &str, url: &str, token: Option<&str>) -> (u16, Value) {
    let c = reqwest::blocking::Client::new();
    let mut r = c.request(method.parse().unwrap(), url);
    if let Some(t) = token {
        r = r.header("Authorization", format!("token {t}"));
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn checks_run_in_forgejos_order() {
    let (emu, base) = world();
    let api = format!("{base}/api/v1/packages");
    let scope_msg = "token does not have at least one of required scope(s): [write:package]";
    let denied = "user should have specific permission or be a site admin";
    // (method, path, token, status, message)
    let cases: &[(&str, String, Option<&str>, u16, &str)] = &[
        // No or an unknown token: 401 before anything else.
        (
            "DELETE",
            format!("{api}/viktor/container/web/v1"),
            None,
            401,
            "token is required",
        ),
        (
            "DELETE",
            format!("{api}/nobody/container/x/y"),
            Some("bogus"),
            401,
            "token is required",
        ),
        // The scope comes before the owner lookup.
        (
            "DELETE",
            format!("{api}/nobody/container/x/y"),
            Some("viktor-ro"),
            403,
            scope_msg,
        ),
        (
            "GET",
            format!("{api}/viktor"),
            Some("viktor-user"),
            403,
            "token does not have at least one of required scope(s): [read:package]",
        ),
        (
            "POST",
            format!("{api}/viktor/container/x/-/unlink"),
            Some("viktor-ro"),
            403,
            scope_msg,
        ),
        // The owner comes before the version.
        (
            "DELETE",
            format!("{api}/nobody/container/x/y"),
            Some("pusher"),
            404,
            "user does not exist [uid: 0, name: nobody]",
        ),
        (
            "GET",
            format!("{api}/nobody"),
            Some("pusher"),
            404,
            "user does not exist [uid: 0, name: nobody]",
        ),
        // The version comes before write access: a missing version is 404
        // to a token that may not delete (the broken probe)...
        (
            "DELETE",
            format!("{api}/viktor/container/web/missing"),
            Some("pusher"),
            404,
            "package does not exist",
        ),
        // ... and an existing one is refused to it.
        (
            "DELETE",
            format!("{api}/viktor/container/web/v1"),
            Some("pusher"),
            403,
            denied,
        ),
        // Unlink names no version: write access comes before the lookup.
        (
            "POST",
            format!("{api}/viktor/container/nothing--here/-/unlink"),
            Some("pusher"),
            403,
            denied,
        ),
        (
            "POST",
            format!("{api}/viktor/container/nothing--here/-/unlink"),
            Some("viktor"),
            404,
            "package does not exist",
        ),
        (
            "POST",
            format!("{api}/platform/container/nothing--here/-/unlink"),
            Some("builder"),
            404,
            "package does not exist",
        ),
        (
            "POST",
            format!("{api}/platform/container/nothing--here/-/unlink"),
            Some("dev"),
            404,
            "package does not exist",
        ),
        (
            "POST",
            format!("{api}/platform/container/nothing--here/-/unlink"),
            Some("root"),
            404,
            "package does not exist",
        ),
        (
            "POST",
            format!("{api}/platform/container/nothing--here/-/unlink"),
            Some("reader"),
            403,
            denied,
        ),
        // A private organisation: no read access for outsiders, and a
        // public-only token is refused after the access checks.
        ("GET", format!("{api}/hidden"), Some("pusher"), 403, denied),
        (
            "GET",
            format!("{api}/hidden"),
            Some("viktor-public"),
            403,
            "token scope is limited to public packages",
        ),
        // Reads: versions by name and version, case-insensitively.
        (
            "GET",
            format!("{api}/Viktor/container/WEB/V1"),
            Some("pusher"),
            200,
            "",
        ),
        (
            "GET",
            format!("{api}/viktor/npm/web/v1"),
            Some("pusher"),
            404,
            "package does not exist",
        ),
    ];
    for (method, url, token, status, message) in cases {
        let (got, body) = call(method, url, *token);
        assert_eq!(got, *status, "{method} {url} with {token:?}: {body}");
        if !message.is_empty() {
            assert_eq!(body["message"], *message, "{method} {url} with {token:?}");
            assert_eq!(body["url"], format!("{base}/api/swagger"), "{body}");
        }
    }
    assert!(
        emu.has_version("viktor", "web", "v1"),
        "nothing was deleted"
    );
    // The owner may delete.
    let (s, _) = call(
        "DELETE",
        &format!("{api}/viktor/container/web/v1"),
        Some("viktor"),
    );
    assert_eq!(s, 204);
    assert!(!emu.has_version("viktor", "web", "v1"));
}

#[test]
fn listing_is_forgejos() {
    let emu = Emulator::new().token("t", "viktor", &["read:package"]);
    // 35 versions of "Web-App" and one of "api", created one day apart.
    for i in 0..35 {
        emu.push(
            "viktor",
            "Web-App",
            &format!("v{i}"),
            &image(&format!("w{i}")),
            &format!("2026-{:02}-{:02}T00:00:00Z", 9 + i / 28, 1 + i % 28),
        );
    }
    emu.push("viktor", "api", "v0", &image("api"), "2026-12-01T00:00:00Z");
    let base = emu.spawn(0);
    let get = |q: &str| {
        let r = reqwest::blocking::Client::new()
            .get(format!("{base}/api/v1/packages/viktor{q}"))
            .header("Authorization", "token t")
            .send()
            .unwrap();
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let total = r.headers()["x-total-count"].to_str().unwrap().to_string();
        (r.json::<Vec<Value>>().unwrap(), link, total)
    };
    // Newest first; limit=0 is the default page of 30.
    let (items, link, total) = get("?limit=0");
    assert_eq!((items.len(), total.as_str()), (30, "36"));
    assert_eq!(items[0]["name"], "api");
    let dates: Vec<&str> = items
        .iter()
        .map(|i| i["created_at"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert_eq!(
        link,
        format!(
            "<{base}/api/v1/packages/viktor?limit=0&page=2>; rel=\"next\",<{base}/api/v1/packages/viktor?limit=0&page=2>; rel=\"last\""
        )
    );
    // q: a case-insensitive LIKE; type container; the last page links back.
    let (items, link, total) = get("?q=WEB_APP&type=container&limit=50&page=1");
    assert_eq!((items.len(), total.as_str()), (35, "35"));
    assert!(link.is_empty(), "{link}");
    let (items, link, _) = get("?q=web&limit=20&page=2");
    assert_eq!(items.len(), 15);
    assert_eq!(
        link,
        format!(
            "<{base}/api/v1/packages/viktor?limit=20&page=1&q=web>; rel=\"first\",<{base}/api/v1/packages/viktor?limit=20&page=1&q=web>; rel=\"prev\""
        )
    );
    // Another type: nothing. A limit over 50: 50.
    assert_eq!(get("?type=npm").0.len(), 0);
    assert_eq!(get("?limit=500").0.len(), 36);
}
