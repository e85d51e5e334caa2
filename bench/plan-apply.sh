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
cargo build --release --quiet -p tg-wrapper --bin tg
cargo build --release --quiet -p tfplugin --example bench_provider
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
tg="$target/release/tg"
pg_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -x "$d/$1" ] || { echo "$1 not found: run scripts/install-deps.sh" >&2; exit 1; }
  echo "$d/$1"
}
work=$(mktemp -d /tmp/plan-apply-bench.XXXXXX)
pw="bench-password-$$"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgpid=""
cleanup() {
  # $pgpid is the runuser wrapper; the server's own PID is in postmaster.pid.
  if [ -f "$work/pg/data/postmaster.pid" ]; then
    kill -QUIT "$(head -1 "$work/pg/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ -n "$pgpid" ]; then wait "$pgpid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"; mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
printf '%s' "$pw" > "$work/pg/pw"; [ "$(id -u)" = 0 ] && chown postgres: "$work/pg/pw"
as_pg "$(pg_bin initdb)" -D "$work/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  --pwfile="$work/pg/pw" -E UTF8 --locale=C --no-sync >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
as_pg "$(pg_bin postgres)" -D "$work/pg/data" -k "$work/pg" -p "$port" -c listen_addresses=127.0.0.1 \
  >"$work/pg/server.log" 2>&1 &
pgpid=$!
for _ in $(seq 1 200); do
  psql -X -h "$work/pg" -p "$port" -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1 && break
  sleep 0.1
done
psql -X -q -h "$work/pg" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE state'
mkdir -p "$work/seed/stacks/noop"
echo 'locals { tier0_stacks = [] }' > "$work/seed/terragrunt.hcl"
printf '.terraform/\n.terraform.lock.hcl\nterraform.tfstate*\n' > "$work/seed/.gitignore"
# A filesystem mirror (not dev_overrides): init must run for the pg backend.
mirror="$work/mirror/registry.terraform.io/homelab/bench/0.0.1/$(uname -s | tr '[:upper:]' '[:lower:]')_$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')"
mkdir -p "$mirror"
cp "$target/release/examples/bench_provider" "$mirror/terraform-provider-bench_v0.0.1"
printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$work/mirror" > "$work/cli.tfrc"
cat > "$work/seed/stacks/noop/main.tf" <<'HCL'
terraform {
  required_providers {
    bench = { source = "registry.terraform.io/homelab/bench" }
  }
  backend "pg" {
    schema_name = "noop"
  }
}
resource "bench_item" "x" {
  input = "noop"
}
HCL
git init -q --bare -b main "$work/forge.git"
git -C "$work/seed" init -q -b main
git -C "$work/seed" -c user.name=b -c user.email=b@example.invalid add -A
git -C "$work/seed" -c user.name=b -c user.email=b@example.invalid commit -q -m noop
git -C "$work/seed" push -q "$work/forge.git" main
git clone -q "$work/forge.git" "$work/repo"
stack="$work/repo/stacks/noop"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TG_ENGINE=terraform TG_PLUGIN_CACHE_DIR=off
export PG_CONN_STR="postgres://postgres:$pw@127.0.0.1:$port/state?sslmode=disable"
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
