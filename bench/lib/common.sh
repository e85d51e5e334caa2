# Sourced by bench/*.sh and reliability/*.sh, which run from the repo root.
# target_dir: cargo's target directory (CARGO_TARGET_DIR when set, else the
#   workspace's), where the scripts find what they just built.
# free_port: a loopback TCP port that was free a moment ago.
# os_arch: terraform's name for this platform (linux_amd64, linux_arm64).
# brake_answer: the first lines of a bash stand-in engine, answering tg's
#   destroy brake with a plan without changes (`plan ... -out=F` creates F,
#   `show -json F` prints no resource change); append what the verb under
#   test does.
target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
os_arch() {
  echo "$(uname -s | tr '[:upper:]' '[:lower:]')_$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')"
}
brake_answer() {
  cat <<'SH'
#!/usr/bin/env bash
case " $* " in *" -out="*) for a in "$@"; do case "$a" in -out=*) : > "${a#-out=}";; esac; done; exit 0;; esac
[ "$1" = show ] && { echo '{"format_version":"1.2","resource_changes":[]}'; exit 0; }
SH
}
