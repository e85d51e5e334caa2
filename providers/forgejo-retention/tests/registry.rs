//! Retention against a REAL OCI registry (Debian's `docker-registry`,
//! started here) fronted by the Forgejo package-API emulator: buildkit-style
//! multi-arch indexes with attestation manifests, Docker manifest lists that
//! share a child, a stale `latest`, a cache tag and the keep-N boundary,
//! driven through the real terraform binary. What survives is checked in
//! the registry itself, not through the emulator; so is what a deletion
//! run killed with SIGKILL half-way leaves behind, and that the next apply
//! converges from it.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use forgejo_emulator::{DOCKER_LIST, DOCKER_MANIFEST, Emulator, Manifest, OCI_INDEX, OCI_MANIFEST};
use testsupport::Registry;
use tfplugin::testing::Harness;

const TOKEN: &str = "owner-token-s3cr3t";
const WEB_DELETES: &str = "DELETE /api/v1/packages/homelab/container/web/";

/// A buildkit build: amd64 + arm64 images and an attestation manifest.
fn buildkit(i: usize) -> Manifest {
    let img = |arch: &str| Manifest::Image {
        seed: format!("{arch}-{i}"),
        media_type: OCI_MANIFEST,
    };
    Manifest::Index {
        media_type: OCI_INDEX,
        children: vec![
            img("amd64"),
            img("arm64"),
            Manifest::Attestation {
                seed: format!("att-{i}"),
            },
        ],
    }
}

/// A Docker manifest list whose first child is shared with every other one.
fn docker_list(unique: &str) -> Manifest {
    let img = |seed: &str| Manifest::Image {
        seed: seed.into(),
        media_type: DOCKER_MANIFEST,
    };
    Manifest::Index {
        media_type: DOCKER_LIST,
        children: vec![img("shared-base"), img(unique)],
    }
}

fn cache() -> Manifest {
    Manifest::Image {
        seed: "cache".into(),
        media_type: OCI_MANIFEST,
    }
}

/// Every manifest digest of `m` (the top one last).
fn digests(m: &Manifest) -> Vec<String> {
    m.render().all().iter().map(|r| r.digest.clone()).collect()
}

struct Fixture {
    registry: Registry,
    emu: Emulator,
    url: String,
    /// tag → its manifest.
    images: BTreeMap<&'static str, Manifest>,
}

/// By age, newest first: v2, sha-0005, sha-0004 (the newest 3), then
/// sha-0003, sha-0002, v1, sha-0001 (candidates), then sha-0000, which is
/// the same image as the stale `latest`; `buildcache` is the oldest.
fn fixture() -> Fixture {
    let registry = Registry::start();
    let emu = Emulator::with_registry(&registry.addr()).token(TOKEN, "homelab", &["write:package"]);
    let mut images = BTreeMap::new();
    let tags = [
        "sha-0000", "sha-0001", "sha-0002", "sha-0003", "sha-0004", "sha-0005",
    ];
    for (i, tag) in tags.into_iter().enumerate() {
        emu.push(
            "homelab",
            "web",
            tag,
            &buildkit(i),
            &format!("2026-10-{:02}T12:00:00Z", i + 1),
        );
        images.insert(tag, buildkit(i));
    }
    let pushes = [
        ("latest", buildkit(0), "2026-10-01T12:00:00Z"),
        ("buildcache", cache(), "2026-09-01T00:00:00Z"),
        ("v1", docker_list("v1"), "2026-10-02T13:00:00Z"),
        ("v2", docker_list("v2"), "2026-10-07T12:00:00Z"),
    ];
    for (tag, m, at) in pushes {
        emu.push("homelab", "web", tag, &m, at);
        images.insert(tag, m);
    }
    let url = emu.spawn(0);
    Fixture {
        registry,
        emu,
        url,
        images,
    }
}

impl Fixture {
    /// Whether the REAL registry still serves `digest` in homelab/web.
    fn registry_has(&self, digest: &str) -> bool {
        let r = reqwest::blocking::Client::new()
            .get(format!(
                "http://{}/v2/homelab/web/manifests/{digest}",
                self.registry.addr()
            ))
            .header(
                "Accept",
                terraform_provider_forgejo_retention::manifest::ACCEPT,
            )
            .send()
            .expect("registry answers");
        match r.status().as_u16() {
            200 => true,
            404 => false,
            s => panic!("registry answered {s} for {digest}"),
        }
    }

    /// Kept images are whole in the registry; deleted ones are gone from it,
    /// except children another kept image still references.
    fn assert_outcome(&self) {
        let kept = [
            "latest",
            "sha-0000",
            "sha-0004",
            "sha-0005",
            "v2",
            "buildcache",
        ];
        let deleted = ["sha-0001", "sha-0002", "sha-0003"];
        for tag in kept {
            for d in digests(&self.images[tag]) {
                assert!(self.registry_has(&d), "{tag}: {d} must survive");
            }
            assert!(self.emu.has_version("homelab", "web", tag), "{tag} kept");
        }
        for tag in deleted {
            for d in digests(&self.images[tag]) {
                assert!(!self.registry_has(&d), "{tag}: {d} must be deleted");
            }
            assert!(!self.emu.has_version("homelab", "web", tag));
        }
        let v1 = digests(&self.images["v1"]);
        let shared = &digests(&self.images["v2"])[0];
        assert_eq!(&v1[0], shared, "v1 and v2 share their first child");
        assert!(self.registry_has(shared), "the shared child stays for v2");
        assert!(!self.registry_has(&v1[1]) && !self.registry_has(&v1[2]));
        let tags: Vec<String> = self
            .emu
            .versions("homelab")
            .into_iter()
            .filter(|v| !v.version.starts_with("sha256:"))
            .map(|v| v.version)
            .collect();
        assert_eq!(
            tags.len(),
            kept.len(),
            "exactly the kept tags remain: {tags:?}"
        );
    }

    fn deletes(&self) -> usize {
        self.emu
            .requests()
            .iter()
            .filter(|r| r.starts_with(WEB_DELETES))
            .count()
    }
}

fn config(url: &str, extra: &str) -> String {
    format!(
        r#"{}
resource "retention_policy" "web" {{
  owner     = "homelab"
  package   = "web"
  keep_last = 3
  {extra}
}}
data "retention_integrity" "all" {{
  owner      = "homelab"
  depends_on = [retention_policy.web]
}}
output "ok" {{ value = data.retention_integrity.all.ok }}
output "candidates" {{ value = [for c in retention_policy.web.candidates : c.version if c.kind == "tag"] }}
"#,
        common::provider(url, "retries = 1")
    )
}

fn harness(f: &Fixture) -> Harness {
    let h = common::harness(TOKEN);
    h.config(&config(&f.url, ""));
    h
}

#[test]
fn deletion_in_a_real_registry_keeps_every_kept_image_whole() {
    let f = fixture();
    let h = harness(&f);
    h.apply();
    let mut planned: Vec<String> = serde_json::from_value(h.output("candidates")).unwrap();
    planned.sort();
    assert_eq!(
        planned,
        ["sha-0001", "sha-0002", "sha-0003", "v1"],
        "keep-N counts tags: v2, sha-0005, sha-0004 are the newest 3; sha-0000 is latest's image"
    );
    h.config(&config(&f.url, "dry_run = false"));
    h.apply();
    f.assert_outcome();
    h.refresh();
    assert_eq!(h.output("ok"), serde_json::json!(true));
    h.assert_plan_empty();
}

#[test]
fn repeated_5xx_stop_the_run_a_403_stops_it_at_once_and_a_rerun_converges() {
    let f = fixture();
    let h = harness(&f);
    h.config(&config(&f.url, "dry_run = false"));
    let before = f.emu.versions("homelab").len();

    // retries = 1: three deletions answered 500 twice each.
    f.emu.inject_for(WEB_DELETES, &[500; 6]);
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(!out.success(), "{}", out.combined());
    assert!(
        out.combined().contains("3 deletions in a row answered 5xx"),
        "{}",
        out.combined()
    );
    assert_eq!(f.emu.versions("homelab").len(), before, "nothing deleted");

    let sent = f.deletes();
    f.emu.inject_for(WEB_DELETES, &[403]);
    let out = h.run(&["apply", "-auto-approve", "-no-color"]);
    assert!(
        out.combined().contains("Delete refused"),
        "{}",
        out.combined()
    );
    assert_eq!(f.deletes(), sent + 1, "a 403 is never retried or followed");
    assert_eq!(f.emu.versions("homelab").len(), before);

    // One transient 503 is retried and the run completes.
    f.emu.inject_for(WEB_DELETES, &[503]);
    h.apply();
    f.assert_outcome();
    h.refresh();
    assert_eq!(h.output("ok"), serde_json::json!(true));
    h.assert_plan_empty();
}

/// terraform with the provider as a real plugin process (a dev override),
/// so SIGKILL can take both down mid-apply.
fn terraform(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(testsupport::require_bin("terraform"));
    cmd.args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", dir.join("dev.tfrc"))
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_VAR_token", TOKEN)
        .env_remove("TF_LOG")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn sigkill_mid_apply_then_the_next_apply_converges() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let plugin_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-forgejo-retention"))
        .parent()
        .unwrap();
    std::fs::write(
        dir.path().join("dev.tfrc"),
        format!(
            "provider_installation {{\n  dev_overrides {{\n    \"registry.terraform.io/homelab/forgejo-retention\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugin_dir.display()
        ),
    )
    .unwrap();
    let main = dir.path().join("main.tf");
    std::fs::write(&main, config(&f.url, "")).unwrap();
    testsupport::run_ok(&mut terraform(dir.path(), &["apply", "-auto-approve"]));

    std::fs::write(&main, config(&f.url, "dry_run = false")).unwrap();
    // Two deletions go through; the third hangs until terraform is killed.
    f.emu.hold_deletes_after(2);
    let mut apply = terraform(dir.path(), &["apply", "-auto-approve", "-no-color"]);
    apply
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = apply.spawn().unwrap();
    let started = Instant::now();
    while f.deletes() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120) && child.try_wait().unwrap().is_none(),
            "the apply never reached its third deletion"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // terraform and the provider plugin together, like an OOM kill or a CI timeout.
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // Tags go first, in order: killed half-way through them.
    for (tag, gone) in [
        ("sha-0001", true),
        ("sha-0002", true),
        ("sha-0003", false),
        ("v1", false),
    ] {
        assert_eq!(!f.emu.has_version("homelab", "web", tag), gone, "{tag}");
    }
    f.emu.release_deletes();
    testsupport::run_ok(&mut terraform(dir.path(), &["apply", "-auto-approve"]));
    f.assert_outcome();
    // State holds what the run deleted (the applied plan); the refresh reads
    // the registry again, after which there is nothing left to do.
    testsupport::run_ok(&mut terraform(
        dir.path(),
        &["apply", "-refresh-only", "-auto-approve"],
    ));
    let out = terraform(dir.path(), &["plan", "-detailed-exitcode", "-no-color"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "converged: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
