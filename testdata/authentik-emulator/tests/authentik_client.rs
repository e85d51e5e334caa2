//! Contract test: the emulator read by `authentik-client` (PyPI, pinned in
//! `scripts/install-deps.sh`), the client goauthentik generates from
//! Authentik's OpenAPI document, with strict models. The script
//! (`contract/authentik_client_contract.py`) creates, reads, lists, updates
//! and deletes through every endpoint the forward-auth provider uses, reads
//! every reply strictly, and sends a table of requests real Authentik
//! rejects, expecting Authentik's status and error shape.

use std::process::Command;

use authentik_emulator::{DEFAULT_TOKEN, Emulator};

#[test]
fn authentik_client_reads_every_reply_strictly() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('authentik-client'))",
        ])
        .output();
    let installed = match probe {
        Err(e) => panic!(
            "python3 is needed for the authentik-client contract test and cannot be run: {e}; run scripts/install-deps.sh"
        ),
        Ok(o) if !o.status.success() => panic!(
            "authentik-client is not installed for python3 ({}); run scripts/install-deps.sh",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
    };
    let emu = Emulator::start();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contract/authentik_client_contract.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(emu.url())
        .arg(DEFAULT_TOKEN)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("authentik-client {installed}:\n{text}");
    assert!(
        out.status.success(),
        "the authentik-client contract failed:\n{text}"
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    // The generated client sends only fields of the request schemas.
    let ignored = emu.with(|i| i.store.ignored_fields.clone());
    assert!(
        ignored.is_empty(),
        "fields the server would ignore: {ignored:?}"
    );
    // Everything the script made is gone again (deletes and cascades).
    emu.with(|i| {
        assert!(i.store.all("policies/bindings").is_empty());
        assert!(i.store.all("providers/proxy").is_empty());
        assert_eq!(i.store.all("core/groups").len(), 1);
    });
}
