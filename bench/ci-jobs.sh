#!/usr/bin/env bash
# `tg ci apply --jobs 4` vs serial on 30 independent stacks. The engine is a
# stub that takes 1 s per stack (standing in for terraform waiting on APIs),
# so the ratio measures tg's scheduling, not CPU contention.
# Usage: bench/ci-jobs.sh [stacks] [seconds-per-stack]   (defaults 30, 1)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
n="${1:-30}"; secs="${2:-1}"
cargo build --release --quiet -p tg-wrapper
tg="$(target_dir)/release/tg"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/repo/stacks"
echo 'locals { tier0_stacks = [] }' > "$work/repo/terragrunt.hcl"
for i in $(seq -w 1 "$n"); do mkdir -p "$work/repo/stacks/s$i"; echo '# stack' > "$work/repo/stacks/s$i/terragrunt.hcl"; done
# The destroy brake asks the engine for a saved plan and reads it back.
brake_answer > "$work/engine"
printf 'sleep %s\necho "Apply complete!"\n' "$secs" >> "$work/engine"; chmod +x "$work/engine"
export TG_ENGINE="$work/engine" PG_CONN_STR=unused
cd "$work/repo"
python3 - "$tg" "$n" <<'PY'
import subprocess, sys, time
tg, n = sys.argv[1], sys.argv[2]
def timed(*args):
    t = time.perf_counter(); r = subprocess.run([tg, "ci", "apply", "--all", *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" OK ") >= int(n), r.stdout
    return time.perf_counter() - t
serial = timed("--jobs", "1"); par = timed("--jobs", "4")
print(f"{n} independent stacks: serial {serial:.1f} s, --jobs 4 {par:.1f} s, ratio {par/serial:.2f}")
print(f"BENCH|ci-jobs|tg ci apply --jobs 4 vs serial, {n} stacks (s)|{par:.2f}|{serial:.2f}|{par/serial:.3f}|<= 0.35x")
PY
