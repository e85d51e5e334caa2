//! Contract test: the emulator read by pyforgejo (PyPI, pinned in
//! `scripts/install-deps.sh`), a Forgejo client generated from Forgejo's
//! OpenAPI document by people who never saw this emulator. The script
//! (`contract/pyforgejo_contract.py`) reads every reply of every endpoint
//! the retention provider uses strictly, and checks the requests Forgejo
//! rejects are rejected with Forgejo's status and message.

use std::process::Command;

use forgejo_emulator::{Access, Emulator, Manifest, OCI_INDEX, OCI_MANIFEST, Visibility};

fn fixture() -> Emulator {
    let emu = Emulator::new()
        .token("owner-token", "viktor", &["write:package", "read:user"])
        .token("readonly-token", "viktor", &["read:package"])
        .org("platform", Visibility::Public)
        .team(
            "platform",
            "Owners",
            Access::Owner,
            Access::Owner,
            &["viktor"],
        )
        .team(
            "platform",
            "readers",
            Access::Read,
            Access::Read,
            &["ci-pusher"],
        )
        .token("pusher-token", "ci-pusher", &["write:package", "read:user"]);
    let img = |seed: &str| Manifest::Image {
        seed: seed.into(),
        media_type: OCI_MANIFEST,
    };
    let index = Manifest::Index {
        media_type: OCI_INDEX,
        children: vec![
            img("amd64"),
            img("arm64"),
            Manifest::Attestation { seed: "att".into() },
        ],
    };
    emu.push("viktor", "web", "sha-0001", &index, "2026-10-05T12:00:00Z");
    emu.push("viktor", "web", "latest", &index, "2026-10-05T12:00:01Z");
    emu.push("viktor", "web", "old", &img("old"), "2026-09-01T00:00:00Z");
    emu.push("platform", "web", "v1", &img("p"), "2026-10-01T00:00:00Z");
    emu
}

#[test]
fn pyforgejo_reads_every_reply_strictly() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('pyforgejo'))",
        ])
        .output();
    let installed = match probe {
        Err(e) => panic!(
            "python3 is needed for the pyforgejo contract test and cannot be run: {e}; run scripts/install-deps.sh"
        ),
        Ok(o) if !o.status.success() => panic!(
            "pyforgejo is not installed for python3 ({}); run scripts/install-deps.sh",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_string(),
    };
    let emu = fixture();
    let url = emu.spawn(0);
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contract/pyforgejo_contract.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(&url)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("pyforgejo {installed}:\n{text}");
    assert!(
        out.status.success(),
        "the pyforgejo contract failed:\n{text}"
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    // The delete the script made went through; nothing else was deleted.
    assert!(!emu.has_version("viktor", "web", "old"));
    assert!(emu.has_version("viktor", "web", "latest"));
}
