//! The README's first command (scripts/demo.sh) on the example repo: every
//! example stack applies through `tg` against the local services, and the
//! `tg ci drift` run that follows finds no drift. Uses the binaries this
//! `cargo build --workspace --bins` in scripts/test.sh built (tg, the
//! providers, both emulators).

use std::path::Path;
use std::process::Command;

#[test]
fn quickstart_demo_applies_every_example_stack_and_finds_no_drift() {
    testsupport::require_bin("terraform");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tg")).parent().unwrap();
    for b in [
        "authentik-emulator",
        "forgejo-emulator",
        "terraform-provider-authentik-forward-auth",
        "terraform-provider-goldmane-edges",
        "terraform-provider-forgejo-retention",
    ] {
        assert!(
            bin_dir.join(b).is_file(),
            "{b} is not built in {}: run `cargo build --workspace --bins` first (scripts/test.sh does)",
            bin_dir.display()
        );
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(repo.join("scripts/demo.sh"))
        .current_dir(&repo)
        .env("DEMO_SKIP_INSTALL", "1")
        .env("DEMO_BIN_DIR", bin_dir)
        .env_remove("TF_CLI_CONFIG_FILE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the demo failed (exit {:?}):\n{text}",
        out.status.code()
    );
    for stack in [
        "bootstrap",
        "app-config",
        "goldmane-egress",
        "forward-auth",
        "registry-retention",
    ] {
        assert!(
            text.contains(&format!("tg apply --stack {stack} --non-interactive")),
            "{stack} was not applied:\n{text}"
        );
    }
    assert!(text.contains("Apply complete!"), "{text}");
    // Issue 20: every Tier-1 stack's state is in its own schema, and no
    // plaintext state file is left in the example repo.
    for (stack, schema) in [
        ("app-config", "app_config"),
        ("goldmane-egress", "goldmane_egress"),
        ("forward-auth", "forward_auth"),
        ("registry-retention", "registry_retention"),
    ] {
        assert!(
            text.contains(&format!("[demo] {stack}: "))
                && text.contains(&format!(
                    "state row(s) in schema terraform_state.{schema}\n"
                )),
            "{stack}'s state is not in its schema:\n{text}"
        );
    }
    assert!(
        text.contains("[demo] no plaintext state file in the repo"),
        "{text}"
    );
    assert!(
        text.contains("FAILED 0  DRIFT 0"),
        "the drift run found drift or failures:\n{text}"
    );
    assert!(
        text.contains("state(bootstrap): update encrypted state"),
        "Tier-0 state was committed:\n{text}"
    );
}
