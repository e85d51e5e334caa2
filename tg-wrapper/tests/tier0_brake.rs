//! The forge check and the destroy brake on a Tier-0 stack, the brake
//! through `tg ci apply` as the CI pod runs it: real terraform, SOPS/age state committed to a bare-repo
//! forge, the lock in a real OpenBao. A refused plan leaves the encrypted
//! state, the forge and the lock as they were, and no plaintext (the plan
//! file lives in the decrypted state's private folder).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use testsupport::{
    OpenBao, age_keygen, git, output_text, require_bin,
    tg::{sops_config, without_ambient_env},
};

const TG: &str = env!("CARGO_BIN_EXE_tg");

fn stack_tf(resources: &[&str]) -> String {
    resources
        .iter()
        .map(|r| format!("resource \"terraform_data\" \"{r}\" {{\n  input = \"{r}\"\n}}\n"))
        .collect()
}

#[test]
fn a_refused_tier0_plan_changes_nothing_and_an_allowed_one_is_committed() {
    require_bin("terraform");
    let bao = OpenBao::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("age.txt");
    let recipient = age_keygen(&key);
    let forge = d.join("forge.git");
    git(
        d,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            forge.to_str().unwrap(),
        ],
    );
    let seed = d.join("seed");
    std::fs::create_dir_all(seed.join("stacks/infra")).unwrap();
    std::fs::write(
        seed.join("terragrunt.hcl"),
        "locals {\n  tier0_stacks = [\"infra\"]\n}\n",
    )
    .unwrap();
    std::fs::write(seed.join(".gitignore"), ".terraform/\n").unwrap();
    std::fs::write(seed.join(".sops.yaml"), sops_config(&recipient)).unwrap();
    std::fs::write(
        seed.join("stacks/infra/main.tf"),
        stack_tf(&["keep", "gone"]),
    )
    .unwrap();
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["config", "user.email", "seed@example.invalid"]);
    git(&seed, &["config", "user.name", "seed"]);
    git(&seed, &["add", "-A"]);
    git(&seed, &["commit", "-q", "-m", "infra"]);
    git(&seed, &["push", "-q", forge.to_str().unwrap(), "main"]);
    let pod = d.join("pod");
    git(
        d,
        &[
            "clone",
            "-q",
            forge.to_str().unwrap(),
            pod.to_str().unwrap(),
        ],
    );
    git(&pod, &["config", "user.email", "ci@example.invalid"]);
    git(&pod, &["config", "user.name", "ci"]);
    let tmp = d.join("plain");
    std::fs::create_dir_all(&tmp).unwrap();
    let tg = |args: &[&str], env: &[(&str, &str)]| -> Output {
        let mut cmd = Command::new(TG);
        cmd.args(args)
            .current_dir(&pod)
            .env("TG_ENGINE", "terraform")
            .env("TF_CLI_CONFIG_FILE", "/dev/null")
            .env("SOPS_AGE_KEY_FILE", &key)
            .env("TG_TMPDIR", &tmp)
            .env("VAULT_ADDR", bao.addr())
            .env("VAULT_TOKEN", bao.token())
            .env("HOME", d)
            .env("TG_CI_RETRY_DELAY", "0")
            .stdin(Stdio::null());
        without_ambient_env(&mut cmd);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let forge_state = || -> Vec<String> {
        let out = Command::new("git")
            .args([
                "--git-dir",
                forge.to_str().unwrap(),
                "show",
                "main:state/stacks/infra/terraform.tfstate",
            ])
            .output()
            .unwrap();
        let keys = sops_rs::KeySources {
            age_identities: sops_rs::keys::parse_identities(
                &std::fs::read_to_string(&key).unwrap(),
                "t",
            )
            .unwrap(),
            ..Default::default()
        };
        let plain = sops_rs::decrypt_binary(&out.stdout, &keys).unwrap().0;
        let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        let mut names: Vec<String> = json["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let forge_tip = || {
        git(
            d,
            &["--git-dir", forge.to_str().unwrap(), "rev-parse", "main"],
        )
    };
    let push = |tf: &str, message: &str| -> String {
        std::fs::write(pod.join("stacks/infra/main.tf"), tf).unwrap();
        git(&pod, &["commit", "-q", "-am", message]);
        git(&pod, &["push", "-q"]);
        git(&pod, &["rev-parse", "HEAD"])
    };
    let ci = |head: &str| {
        tg(
            &["ci", "apply", "--stacks", "infra"],
            &[("CI_COMMIT_SHA", head), ("CI_COMMIT_BRANCH", "main")],
        )
    };

    let out = tg(&["init", "--stack", "infra", "-input=false"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));

    // The forge check is the same for Tier-0: an unmerged branch, pushed,
    // is refused before the lock, and nothing reaches the forge.
    git(&pod, &["switch", "-q", "-c", "feature"]);
    std::fs::write(pod.join("README.md"), "feature\n").unwrap();
    git(&pod, &["add", "README.md"]);
    git(&pod, &["commit", "-q", "-m", "feature"]);
    git(&pod, &["push", "-q", "-u", "origin", "feature"]);
    let out = tg(&["apply", "--stack", "infra", "--non-interactive"], &[]);
    let t = output_text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("not the forge's default branch origin/main")
            && t.contains("nothing was applied"),
        "{t}"
    );
    let on_forge = Command::new("git")
        .args(["--git-dir", forge.to_str().unwrap(), "cat-file", "-e"])
        .arg("main:state/stacks/infra/terraform.tfstate")
        .status()
        .unwrap();
    assert!(!on_forge.success(), "no state on the forge");
    git(&pod, &["switch", "-q", "main"]);

    let out = tg(&["apply", "--stack", "infra", "--non-interactive"], &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(forge_state(), ["gone", "keep"]);

    // A commit drops `gone`: refused; no state commit, the forge as it was.
    let head = push(&stack_tf(&["keep"]), "infra: drop gone");
    let tip = forge_tip();
    let out = ci(&head);
    let t = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("destroy-refused") && t.contains("Tg-Allow-Destroy: infra terraform_data.gone"),
        "{t}"
    );
    assert_eq!(forge_tip(), tip, "no state commit:\n{t}");
    assert_eq!(forge_state(), ["gone", "keep"]);
    let left: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "plaintext or plan left: {left:?}");

    // Allowed by the pushed commit: applied, committed, pushed; the lock
    // the refused run held was released (a CI run may not wait for it).
    std::fs::write(pod.join("README.md"), "allow\n").unwrap();
    git(&pod, &["add", "README.md"]);
    git(
        &pod,
        &[
            "commit",
            "-q",
            "-m",
            "infra: drop gone\n\nTg-Allow-Destroy: infra",
        ],
    );
    git(&pod, &["push", "-q"]);
    let head = git(&pod, &["rev-parse", "HEAD"]);
    let out = ci(&head);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(forge_state(), ["keep"]);
    assert!(std::fs::read_dir(&tmp).unwrap().next().is_none());
}
