#!/usr/bin/env bash
# What the destroy brake costs: `tg apply --non-interactive` (forge check,
# plan to a file, `show -json`, apply of that file) vs `terraform apply
# -auto-approve` called directly (plan and apply in one process), on the
# same no-op stack (one resource of a real provider process, the SDK's
# bench provider; state in its own schema of a PostgreSQL started here,
# the `pg` backend every Tier-1 stack has), in a clone of a bare-repo forge
# so the forge check runs as it does for a human. Interleaved, median of N runs;
# also the median `terraform plan`, to put the difference next to one plan.
# Usage: bench/plan-apply.sh [runs]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-15}"
. bench/lib/pg.sh
. bench/lib/noop_stack.sh
build_noop_bench
work=$(mktemp -d /tmp/plan-apply-bench.XXXXXX)
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work/pg" state
mkdir -p "$work/seed/stacks/noop"
echo 'locals { tier0_stacks = [] }' > "$work/seed/terragrunt.hcl"
printf '.terraform/\n.terraform.lock.hcl\nterraform.tfstate*\n' > "$work/seed/.gitignore"
bench_mirror "$work" "$target/release/examples/bench_provider"
noop_stack "$work/seed/stacks/noop"
git init -q --bare -b main "$work/forge.git"
git -C "$work/seed" init -q -b main
git -C "$work/seed" -c user.name=b -c user.email=b@example.invalid add -A
git -C "$work/seed" -c user.name=b -c user.email=b@example.invalid commit -q -m noop
git -C "$work/seed" push -q "$work/forge.git" main
git clone -q "$work/forge.git" "$work/repo"
stack="$work/repo/stacks/noop"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TG_ENGINE=terraform TG_PLUGIN_CACHE_DIR=off
export PG_CONN_STR="$(pg_url state)"
(cd "$stack" && terraform init -input=false >/dev/null && terraform apply -auto-approve -input=false >/dev/null)
python3 - "$tg" "$stack" "$runs" "$work/saved.tfplan" <<'PY'
import subprocess, sys, time, statistics
tg, stack, runs, planfile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def timed(cmd):
    t = time.perf_counter(); subprocess.run(cmd, cwd=stack, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); return time.perf_counter() - t
direct = ["terraform", "apply", "-auto-approve", "-lock-timeout=5m", "-input=false"]
braked = [tg, "apply", "--non-interactive"]
plan = ["terraform", "plan", "-lock-timeout=5m", "-input=false"]
saved = ["terraform", "plan", "-input=false", f"-out={planfile}"]
show = ["terraform", "show", "-json", planfile]
fetch = ["git", "fetch", "-q", "--no-tags", "origin", "+refs/heads/main:refs/remotes/origin/main"]
timed(saved)
for _ in range(3): timed(direct); timed(braked); timed(plan); timed(show)
d, b, p, s, f = [], [], [], [], []
for _ in range(runs):
    d.append(timed(direct)); b.append(timed(braked)); p.append(timed(plan)); s.append(timed(show)); f.append(timed(fetch))
d, b, p, s, f = (statistics.median(x) for x in (d, b, p, s, f))
print(f"no-op apply: terraform apply {d*1000:.0f} ms, tg apply (forge check + plan file + show -json, no apply: nothing to apply) {b*1000:.0f} ms")
print(f"one terraform plan {p*1000:.0f} ms; of tg's part: show -json {s*1000:.0f} ms, git fetch from the forge {f*1000:.0f} ms")
print(f"difference {1000*(b-d):+.0f} ms = {(b-d)/p:.2f} plans")
print(f"BENCH|plan-apply|tg apply (brake) vs terraform apply, no-op stack (s)|{b:.3f}|{d:.3f}|{b/d:.3f}|-")
print(f"BENCH|plan-apply|added cost, in plans of the same stack|{(b-d)/p:.2f}|1|-|<= 1 plan")
PY
