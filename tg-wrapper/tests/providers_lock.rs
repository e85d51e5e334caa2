//! `tg providers lock` with the project's own providers through a
//! filesystem mirror (scripts/providers-install.sh, with the binaries
//! `cargo build --workspace --bins` built): every stack's
//! `.terraform.lock.hcl` gets checksums for both platforms, and an init
//! from the mirror verifies against them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testsupport::{output_text, require_bin, run_ok};

const TG: &str = env!("CARGO_BIN_EXE_tg");
const TYPES: [&str; 3] = [
    "authentik-forward-auth",
    "goldmane-edges",
    "forgejo-retention",
];

/// The mirror providers-install.sh lays out from the built binaries, plus
/// a darwin_arm64 package per provider. No cross toolchain here: the
/// darwin package is the linux executable with a marker appended under
/// that platform's folder, which is all the lock needs (it hashes the
/// package's files; an identical package would give an identical hash).
fn mirror(dir: &Path) -> PathBuf {
    let bin_dir = Path::new(TG).parent().unwrap();
    for t in TYPES {
        assert!(
            bin_dir.join(format!("terraform-provider-{t}")).is_file(),
            "terraform-provider-{t} is not built in {}: run `cargo build --workspace --bins` first (scripts/test.sh does)",
            bin_dir.display()
        );
    }
    let mirror = dir.join("mirror");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    run_ok(
        Command::new(repo.join("scripts/providers-install.sh"))
            .arg(&mirror)
            .env("PROVIDERS_BIN_DIR", bin_dir)
            .env("TG_ENGINE", "terraform")
            .current_dir(&repo),
    );
    let version = std::fs::read_dir(mirror.join("registry.terraform.io/homelab/goldmane-edges"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    for t in TYPES {
        let base = mirror
            .join("registry.terraform.io/homelab")
            .join(t)
            .join(&version);
        let linux = base.join("linux_amd64");
        let darwin = base.join("darwin_arm64");
        std::fs::create_dir_all(&darwin).unwrap();
        for e in std::fs::read_dir(&linux).unwrap() {
            let e = e.unwrap();
            let mut bytes = std::fs::read(e.path()).unwrap();
            bytes.extend_from_slice(b"\ndarwin_arm64 stand-in\n");
            std::fs::write(darwin.join(e.file_name()), bytes).unwrap();
        }
    }
    mirror
}

fn required(types: &[&str]) -> String {
    let mut s = String::from("terraform {\n  required_providers {\n");
    for t in types {
        s.push_str(&format!(
            "    {t} = {{ source = \"registry.terraform.io/homelab/{t}\" }}\n"
        ));
    }
    s + "  }\n}\n"
}

/// The `h1:` hashes recorded for `provider` in a lock file.
fn hashes(lock: &str, provider: &str) -> Vec<String> {
    let start = lock
        .find(&format!(
            "provider \"registry.terraform.io/homelab/{provider}\""
        ))
        .unwrap_or_else(|| panic!("no {provider} in:\n{lock}"));
    let block = &lock[start..];
    let block = &block[..block.find("\n}").unwrap()];
    block
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("\"h1:"))
        .map(|l| l.trim_matches(|c| c == '"' || c == ',').to_string())
        .collect()
}

#[test]
fn every_stack_is_locked_for_both_platforms_from_the_mirror() {
    require_bin("terraform");
    let dir = tempfile::tempdir().unwrap();
    let mirror = mirror(dir.path());
    let root = dir.path().join("repo");
    let write = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    write("terragrunt.hcl", "locals {\n  tier0_stacks = []\n}\n");
    write("stacks/edges/main.tf", &required(&["goldmane-edges"]));
    write(
        "stacks/registry/main.tf",
        &required(&["forgejo-retention", "goldmane-edges"]),
    );
    // A stack whose provider is required only inside a local module.
    write(
        "stacks/auth/main.tf",
        "module \"fwd\" {\n  source = \"../../modules/fwd\"\n}\n",
    );
    write(
        "modules/fwd/main.tf",
        &required(&["authentik-forward-auth"]),
    );
    // A stack without Terraform files of its own: nothing to lock.
    write("stacks/docs/README.md", "notes\n");
    let tg = |args: &[&str], cli_config: &str| -> Output {
        Command::new(TG)
            .args(args)
            .current_dir(&root)
            .env("TG_ENGINE", "terraform")
            .env("TF_CLI_CONFIG_FILE", cli_config)
            .env("HOME", dir.path())
            // No backend block: the stacks' state is local, never PG.
            .env("PG_CONN_STR", "postgres://unused")
            .env_remove("TF_PLUGIN_CACHE_DIR")
            .env_remove("TG_PLUGIN_CACHE_DIR")
            .output()
            .unwrap()
    };
    let mirror_arg = format!("--fs-mirror={}", mirror.display());
    let out = tg(
        &["providers", "lock", &mirror_arg, "--jobs", "2"],
        "/dev/null",
    );
    let t = output_text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("Locking 3 stack(s) for linux_amd64, darwin_arm64"),
        "{t}"
    );
    assert!(!root.join("stacks/docs/.terraform.lock.hcl").exists());
    // This platform's hash, as terraform computes it for an install.
    let reference = std::fs::read_to_string(mirror.join("lock.hcl")).unwrap();
    for (stack, types) in [
        ("edges", vec!["goldmane-edges"]),
        ("registry", vec!["forgejo-retention", "goldmane-edges"]),
        ("auth", vec!["authentik-forward-auth"]),
    ] {
        let lock =
            std::fs::read_to_string(root.join("stacks").join(stack).join(".terraform.lock.hcl"))
                .unwrap_or_else(|e| panic!("{stack}: {e}\n{t}"));
        for ty in types {
            let got = hashes(&lock, ty);
            assert_eq!(got.len(), 2, "{stack}/{ty}: one h1 per platform:\n{lock}");
            for h in hashes(&reference, ty) {
                assert!(
                    got.contains(&h),
                    "{stack}/{ty}: linux_amd64 hash {h}:\n{lock}"
                );
            }
        }
    }
    // The lock verifies: init from the mirror installs against it.
    let cli = mirror.join("cli.tfrc");
    let out = tg(
        &["init", "--stack", "registry", "-input=false", "-no-color"],
        cli.to_str().unwrap(),
    );
    assert!(out.status.success(), "{}", output_text(&out));

    // One stack, one platform; a platform that is not os_arch is refused.
    let out = tg(
        &[
            "--stack",
            "edges",
            "providers",
            "lock",
            &mirror_arg,
            "--platform",
            "linux_amd64",
        ],
        "/dev/null",
    );
    assert!(
        output_text(&out).contains("Locking 1 stack(s) for linux_amd64"),
        "{}",
        output_text(&out)
    );
    let out = tg(
        &["providers", "lock", "--platform", "linux;rm"],
        "/dev/null",
    );
    assert!(!out.status.success());
    assert!(
        output_text(&out).contains("is not a platform"),
        "{}",
        output_text(&out)
    );

    // A provider only the mirror has, locked without it, fails and says so.
    let out = tg(&["providers", "lock", "--stacks", "edges"], "/dev/null");
    assert!(!out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("[edges] FAILED"),
        "{}",
        output_text(&out)
    );
}
