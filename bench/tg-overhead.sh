#!/usr/bin/env bash
# `tg plan` vs `terraform plan` called directly on the same no-op stack
# (one resource of a real provider process — the SDK's bench provider — and
# its state in its own schema of a local PostgreSQL through the pg backend, as
# every Tier-1 stack has: tg refuses any other place), interleaved, median of
# N runs.
# Usage: bench/tg-overhead.sh [runs]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
. bench/lib/pg.sh
. bench/lib/noop_stack.sh
build_noop_bench
work=$(mktemp -d)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work/pg" state
mkdir -p "$work/repo/stacks/noop"
echo 'locals { tier0_stacks = [] }' > "$work/repo/terragrunt.hcl"
echo '# stack' > "$work/repo/stacks/noop/terragrunt.hcl"
bench_mirror "$work" "$target/release/examples/bench_provider"
noop_stack "$work/repo/stacks/noop"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TG_ENGINE=terraform PG_CONN_STR="$(pg_url state)"
(cd "$work/repo/stacks/noop" && terraform init -input=false >/dev/null && terraform apply -auto-approve -input=false >/dev/null 2>&1)
python3 - "$tg" "$work/repo/stacks/noop" "$runs" <<'PY'
import subprocess, sys, time, statistics
tg, stack, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
def timed(cmd):
    t = time.perf_counter(); subprocess.run(cmd, cwd=stack, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); return time.perf_counter() - t
direct, wrapped = [], []
for _ in range(3): timed(["terraform", "plan", "-lock-timeout=5m", "-input=false"]); timed([tg, "plan", "-input=false"])
for _ in range(runs):
    direct.append(timed(["terraform", "plan", "-lock-timeout=5m", "-input=false"]))
    wrapped.append(timed([tg, "plan", "-input=false"]))
d, w = statistics.median(direct), statistics.median(wrapped)
print(f"no-op plan: terraform {d*1000:.0f} ms, tg plan {w*1000:.0f} ms, overhead {(w/d-1)*100:+.1f}%")
print(f"BENCH|tg-overhead|tg plan vs terraform plan, no-op stack (s)|{w:.3f}|{d:.3f}|{w/d:.3f}|<= 1.03x")
PY
