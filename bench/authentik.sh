#!/usr/bin/env bash
# Benchmark: plan + apply of N protected hosts (fwdauth_protected_host, default
# 100) against the Authentik API emulator, both run as processes (release
# builds). Prints API requests per host (plan, apply, re-plan) and wall times,
# and the same plan + apply of N `terraform_data` resources as a baseline for
# terraform's own cost.
#
# Usage: bench/authentik.sh [hosts]
set -euo pipefail

N="${1:-100}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
. "$ROOT/bench/lib/common.sh"
command -v terraform >/dev/null || { echo "terraform is not on PATH: run scripts/install-deps.sh" >&2; exit 1; }

echo "== building provider and emulator (release)" >&2
cargo build --quiet --release --manifest-path "$ROOT/Cargo.toml" \
  -p terraform-provider-authentik-forward-auth -p authentik-emulator
BIN="$CARGO_TARGET_DIR/release"

WORK="$(mktemp -d /tmp/authentik-bench.XXXXXX)"
EMU_PID=""
cleanup() {
  if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(free_port)"
"$BIN/authentik-emulator" "127.0.0.1:$PORT" >"$WORK/emu.log" 2>&1 &
EMU_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$URL/_emulator/stats" >/dev/null && break; sleep 0.05; done

cat >"$WORK/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/homelab/authentik-forward-auth" = "$BIN"
  }
  direct {}
}
disable_checkpoint = true
CFG
export TF_CLI_CONFIG_FILE="$WORK/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export AUTHENTIK_URL="$URL" AUTHENTIK_TOKEN="emulator-admin-token"

mkdir -p "$WORK/hosts" "$WORK/base"
cat >"$WORK/hosts/main.tf" <<HCL
terraform {
  required_providers {
    fwdauth = { source = "registry.terraform.io/homelab/authentik-forward-auth" }
  }
}
provider "fwdauth" {}
resource "fwdauth_protected_host" "h" {
  count           = $N
  slug            = "host-\${count.index}"
  name            = "Host \${count.index}"
  external_host   = "https://host-\${count.index}.example.com"
  allowed_groups  = ["authentik Admins"]
  skip_path_regex = "^/api/public/.*"
}
HCL
cat >"$WORK/base/main.tf" <<HCL
resource "terraform_data" "h" {
  count = $N
  input = { slug = "host-\${count.index}", external_host = "https://host-\${count.index}.example.com" }
}
HCL

now() { date +%s.%N; }
stat() { curl -sf "$URL/_emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
reset() { curl -sf -X POST "$URL/_emulator/reset-stats" >/dev/null; }
# tf DIR SUBCOMMAND [ARGS...]: options go before positional arguments. Exit 2 (changes) fails too.
tf() { local d="$1" c="$2"; shift 2; (cd "$d" && terraform "$c" -no-color -input=false "$@" >>"$WORK/tf.log" 2>&1) || { tail -40 "$WORK/tf.log" >&2; exit 1; }; }

(cd "$WORK/base" && terraform init -no-color -input=false >/dev/null)

echo "== $N protected hosts" >&2
reset; t0=$(now); tf "$WORK/hosts" plan -out=plan.bin; t1=$(now); plan_req=$(stat)
reset; t2=$(now); tf "$WORK/hosts" apply plan.bin; t3=$(now); apply_req=$(stat)
reset; t4=$(now); tf "$WORK/hosts" plan -detailed-exitcode; t5=$(now); replan_req=$(stat)
attached=$(curl -sf "$URL/_emulator/dump" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["outposts/instances"][0]["providers"]))')
[ "$attached" = "$N" ] || { echo "expected $N providers on the outpost, found $attached" >&2; exit 1; }

echo "== baseline: $N terraform_data" >&2
b0=$(now); tf "$WORK/base" plan -out=plan.bin; b1=$(now); tf "$WORK/base" apply plan.bin; b2=$(now)

python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$b0" "$b1" "$b2" "$plan_req" "$apply_req" "$replan_req" <<'PY'
import sys
n = int(sys.argv[1]); t = [float(x) for x in sys.argv[2:11]]; plan_req, apply_req, replan_req = map(int, sys.argv[11:14])
plan, apply, replan = t[1]-t[0], t[3]-t[2], t[5]-t[4]
bplan, bapply = t[7]-t[6], t[8]-t[7]
ours, base = plan + apply, bplan + bapply
print(f"hosts: {n}")
print(f"plan:    {plan:6.2f} s  {plan_req:5d} API requests ({plan_req/n:.2f}/host)")
print(f"apply:   {apply:6.2f} s  {apply_req:5d} API requests ({apply_req/n:.2f}/host)")
print(f"re-plan: {replan:6.2f} s  {replan_req:5d} API requests ({replan_req/n:.2f}/host)")
print(f"baseline terraform_data plan+apply: {base:.2f} s; ours plan+apply: {ours:.2f} s ({ours/base:.1f}x)")
print(f"BENCH|authentik|plan+apply {n} protected hosts (s)|{ours:.2f}|{base:.2f}|{ours/base:.2f}|<= 30 s")
print(f"BENCH|authentik|API requests per host, apply|{apply_req/n:.2f}|-|-|<= 15")
print(f"BENCH|authentik|API requests per host, plan (refresh+plan-time checks)|{plan_req/n:.2f}|-|-|-")
print(f"BENCH|authentik|API requests per host, re-plan (refresh)|{replan_req/n:.2f}|-|-|<= 8")
PY
