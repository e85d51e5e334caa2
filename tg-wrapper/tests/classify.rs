//! Every output in testdata/classify/<class>/ classifies as <class>, both
//! through the library and through the `tg classify` binary (stdin).

use std::io::Write;
use std::process::{Command, Stdio};

use tg_wrapper::classify::{Class, Classifier};

fn corpus() -> Vec<(Class, String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/classify");
    let mut out = Vec::new();
    for (dir, class) in [
        ("locked", Class::Locked),
        ("transient", Class::Transient),
        ("fatal", Class::Fatal),
        ("already-exists", Class::AlreadyExists),
        ("lock-file", Class::LockFile),
        ("destroy-refused", Class::DestroyRefused),
    ] {
        for e in std::fs::read_dir(root.join(dir)).expect("corpus folder") {
            let p = e.unwrap().path();
            out.push((
                class,
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn corpus_classifies_as_filed() {
    let c = Classifier::default();
    let cases = corpus();
    assert!(
        cases.len() >= 40,
        "the corpus holds the seeds' strings and 30+ more"
    );
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(want, name, text)| {
            let (got, rule) = c.classify(text);
            (got != *want).then(|| format!("{name}: want {want}, got {got} ({rule})"))
        })
        .collect();
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn tg_classify_prints_one_word_and_exits_0() {
    for (want, name, text) in corpus().into_iter().step_by(5) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tg"))
            .arg("classify")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{want}\n"),
            "{name}"
        );
    }
}

#[test]
fn errored_state_is_fatal_and_says_how_to_push_it() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/classify/fatal/persist-state.txt"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tg"))
        .arg("classify")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fatal\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("errored.tfstate") && err.contains("tg state push errored.tfstate"),
        "{err}"
    );
}

#[test]
fn repo_patterns_from_tg_toml_come_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    std::fs::write(dir.path().join("terragrunt.hcl"), "").unwrap();
    std::fs::write(
        dir.path().join(".tg.toml"),
        "[[classify.pattern]]\nclass = \"transient\"\nregex = \"429 Too Many Requests\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tg"))
        .arg("classify")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Error: 429 Too Many Requests: rate limited")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout),
        "transient\n"
    );
}

/// `tg classify` on a filed output: (stdout, stderr).
fn classify_file(rel: &str) -> (String, String) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/classify")
            .join(rel),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tg"))
        .arg("classify")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn already_exists_prints_the_import_line() {
    let (class, advice) = classify_file("already-exists/seed-k8s-cronjob.txt");
    assert_eq!(class, "already-exists\n");
    assert!(
        advice.contains(
            "tg import module.monitoring.kubernetes_cron_job_v1.alert_digest <namespace>/alert-digest"
        ),
        "{advice}"
    );
    // The provider's error gives the import ID: it is used as is.
    let (_, advice) = classify_file("already-exists/azurerm-resource-group.txt");
    assert!(
        advice.contains("tg import azurerm_resource_group.main /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-infra"),
        "{advice}"
    );
    let (_, advice) = classify_file("already-exists/k8s-namespace-in-module.txt");
    assert!(
        advice.contains("tg import 'module.postiz.kubernetes_namespace.this[0]' postiz"),
        "{advice}"
    );
    let (_, advice) = classify_file("already-exists/postgresql-role.txt");
    assert!(
        advice.contains("tg import postgresql_role.app <ID>"),
        "{advice}"
    );
}

#[test]
fn lock_file_errors_print_the_lock_command() {
    for f in [
        "lock-file/checksum-mismatch-mirror.txt",
        "lock-file/seed-inconsistent-kubectl.txt",
        "lock-file/version-constraint-tofu.txt",
    ] {
        let (class, advice) = classify_file(f);
        assert_eq!(class, "lock-file\n", "{f}");
        assert!(advice.contains("tg providers lock"), "{f}: {advice}");
    }
    // A checksum download that timed out is still a transient failure.
    let (class, _) = classify_file("transient/seed-provider-download.txt");
    assert_eq!(class, "transient\n");
}

#[test]
fn destroy_refusal_says_what_and_how_to_allow_it() {
    let (class, advice) = classify_file("destroy-refused/ci-replace-not-allowed.txt");
    assert_eq!(class, "destroy-refused\n");
    assert!(
        advice.contains("replace  terraform_data.run")
            && advice.contains("Tg-Allow-Destroy: web terraform_data.run")
            && advice.contains("[[destroy.allow]]"),
        "{advice}"
    );
}
