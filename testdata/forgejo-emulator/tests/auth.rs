//! The emulator takes credentials the way Forgejo does on each route: a
//! provider that passes here sends what a real Forgejo accepts.

use forgejo_emulator::{Emulator, Manifest, OCI_MANIFEST};

const TOKEN: &str = "t0ken";

fn status(url: &str, auth: &str) -> (u16, bool) {
    let r = reqwest::blocking::Client::new()
        .get(url)
        .header("Authorization", auth)
        .send()
        .unwrap();
    (
        r.status().as_u16(),
        r.headers().contains_key("www-authenticate"),
    )
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

#[test]
fn v2_takes_basic_only_and_api_takes_token_or_basic() {
    let emu = Emulator::new().token(TOKEN, "homelab", &["all"]);
    let image = Manifest::Image {
        seed: "x".into(),
        media_type: OCI_MANIFEST,
    };
    emu.push("homelab", "web", "latest", &image, "2026-11-01T00:00:00Z");
    let base = emu.spawn(0);
    let manifest = format!("{base}/v2/homelab/web/manifests/latest");
    let user = format!("{base}/api/v1/user");

    // /v2: the token as the password (any user name), or as the user name
    // with an empty or `x-oauth-basic` password.
    for auth in [
        basic("anyone", TOKEN),
        basic(TOKEN, ""),
        basic(TOKEN, "x-oauth-basic"),
    ] {
        assert_eq!(status(&manifest, &auth), (200, false), "{auth}");
    }
    // ... never `token …`, and a refusal says where to get a bearer token.
    assert_eq!(status(&manifest, &format!("token {TOKEN}")), (401, true));
    assert_eq!(status(&manifest, &basic("anyone", "wrong")), (401, true));

    // /api/v1: `token …` and Basic.
    assert_eq!(status(&user, &format!("token {TOKEN}")).0, 200);
    assert_eq!(status(&user, &basic("anyone", TOKEN)).0, 200);
    assert_eq!(status(&user, "token wrong").0, 401);
}
