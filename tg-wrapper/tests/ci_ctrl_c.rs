//! Ctrl-C on the terminal running `tg ci apply`: the kernel already sends
//! SIGINT to every process of the foreground group, so neither `tg ci` nor
//! the child `tg` forwards it again (a second interrupt makes terraform quit
//! without writing state). The engine sees only the terminal's SIGINT; the running
//! stack is INTERRUPTED and `tg ci` exits 130.

use std::process::Command;
use std::time::Duration;

use testsupport::{git, require_bin, tg::without_ambient_env, wait_for, write_executable};

const TG: &str = env!("CARGO_BIN_EXE_tg");

#[test]
fn ctrl_c_reaches_the_engine_once_and_the_stack_is_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("stacks/a")).unwrap();
    std::fs::write(
        root.join("terragrunt.hcl"),
        "locals {\n  tier0_stacks = []\n}\n",
    )
    .unwrap();
    std::fs::write(root.join("stacks/a/terragrunt.hcl"), "# stack\n").unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    git(&root, &["add", "-A"]);
    git(
        &root,
        &[
            "-c",
            "user.email=ci@example.invalid",
            "-c",
            "user.name=ci",
            "commit",
            "-q",
            "-m",
            "init",
        ],
    );
    let sigs = dir.path().join("signals.txt");
    let pidfile = dir.path().join("engine.pid");
    let engine = dir.path().join("engine");
    // A plan to a file and `show` answer "no changes" (a pre-apply check may
    // ask). The apply blocks SIGINT and takes each one with sigtimedwait,
    // recording who sent it (SI_KERNEL = the terminal, else the sender's
    // pid), and ends 1 s after the first.
    write_executable(
        &engine,
        &format!(
            r#"#!/usr/bin/env python3
import os, signal, sys, time
args = sys.argv[1:]
for a in args:
    if a.startswith("-out="):
        open(a[5:], "w").close()
        sys.exit(0)
if args and args[0] == "show":
    print('{{"format_version":"1.2","resource_changes":[]}}')
    sys.exit(0)
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT}})
open("{pid}", "w").write(str(os.getpid()))
got, deadline = [], time.time() + 30
while time.time() < deadline:
    info = signal.sigtimedwait({{signal.SIGINT}}, 0.1)
    if info:
        got.append("kernel" if info.si_code == 0x80 else "pid %d" % info.si_pid)
        if len(got) == 1:
            deadline = time.time() + 1
open("{sigs}", "w").write("\n".join(got) + "\n")
sys.exit(7)
"#,
            sigs = sigs.display(),
            pid = pidfile.display()
        ),
    );
    let report = dir.path().join("report.json");

    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    // util-linux `setsid --ctty`: a new session on the pty, tg ci in its
    // foreground process group.
    let mut cmd = Command::new(require_bin("setsid"));
    cmd.args([
        "--ctty",
        "--wait",
        TG,
        "ci",
        "apply",
        "--all",
        "--json-report",
    ])
    .arg(&report)
    .current_dir(&root)
    .env("TG_ENGINE", &engine)
    .env("PG_CONN_STR", "postgres://unused")
    .env("HOME", dir.path())
    .stdin(slave.try_clone().unwrap())
    .stdout(slave.try_clone().unwrap())
    .stderr(slave);
    without_ambient_env(&mut cmd);
    let mut tg = cmd.spawn().unwrap();
    wait_for(&pidfile);
    std::thread::sleep(Duration::from_millis(200));
    let mut master = std::fs::File::from(pty.master);
    std::io::Write::write_all(&mut master, b"\x03").unwrap();
    let status = tg.wait().unwrap();
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert_eq!(
        std::fs::read_to_string(&sigs).unwrap().trim(),
        "kernel",
        "the terminal's SIGINT only: no tg level sent another"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["stacks"][0]["stack"], "a");
    assert_eq!(report["stacks"][0]["outcome"], "INTERRUPTED", "{report}");
}
