#!/usr/bin/env bash
# Reliability campaigns (issue 15): each runs a fixed count under a time cap
# and prints `REL|<campaign>|<figure>|<value>|<notes>|<ok or FAIL>` lines that
# this script turns into one table. The full run records its table, with the
# date and the machine, in reliability/README.md; `--quick` (what .ci/run
# runs, through scripts/test.sh) does fewer trials and records nothing.
# Exits 1 when a campaign found a loss or a leak.
# Usage: reliability/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
quick=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    *) echo "usage: reliability/run.sh [--quick]" >&2; exit 2 ;;
  esac
done
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo build --quiet -p tg-wrapper --bin tg
target="$(target_dir)"
tg="$target/debug/tg"
rows=$(mktemp); rows5b=$(mktemp); fbins=$(mktemp -d)
trap 'rm -f "$rows" "$rows5b"; rm -rf "$fbins"' EXIT
status=0
started=$(date +%s)

# 1. Kill a Tier-0 apply at every step (SIGKILL and SIGTERM): 20 per step
# and signal with a stand-in engine (fast, so the count fits), then with
# real terraform. One worker per step: a trial mostly waits (for the killed
# holder's 1 s Vault lease, for git), so 14 workers overlap their waits on
# 2 cores.
echo "=== 1. kill a Tier-0 apply at every step" >&2
if [ "$quick" = 1 ]; then
  python3 reliability/kill_tier0.py "$tg" --engine stub --workers 2 --per 1 --cap 100 \
    --steps decrypted,engine,rename,renamed,commit,committed,push | tee -a "$rows" || status=1
else
  python3 reliability/kill_tier0.py "$tg" --engine stub --workers 14 --per 20 --cap 480 \
    | tee -a "$rows" || status=1
  python3 reliability/kill_tier0.py "$tg" --engine terraform --workers 4 --per 1 --cap 120 \
    | tee -a "$rows" || status=1
fi

# 5b (started here in the full run). The 10,000-version retention run waits
# on the network most of the time (one request after another through the
# fault proxy, ~40,000 of them), so it runs beside the CPU-bound fuzzing
# and hostile-client campaigns instead of after them: the full run stays
# near 20 minutes on 2 cores. Its rows are added when it ends (below).
cargo build --quiet -p forgejo-emulator -p terraform-provider-forgejo-retention
cp "$target/debug/forgejo-emulator" "$target/debug/terraform-provider-forgejo-retention" "$fbins/"
if [ "$quick" = 0 ]; then
  echo "=== 5b. provider faults: Forgejo retention, 10,000 versions (in the background)" >&2
  python3 reliability/retention_faults.py "$fbins" --versions 10000 --images 250 --every 100 --cap 900 \
    > "$rows5b" &
  retention=$!
fi

# 2. Fuzzing (full run only: building the instrumented targets alone takes
# minutes on 2 cores, more than the quick run's budget).
if [ "$quick" = 0 ]; then
  echo "=== 2. fuzzing" >&2
  reliability/fuzz.sh 1000000 30 | tee -a "$rows" || status=1
fi

# 3. Hostile provider clients (full run; the same test runs, with fewer
# rounds, in cargo test).
if [ "$quick" = 0 ]; then
  echo "=== 3. hostile provider clients" >&2
  HOSTILE_ROUNDS=20 cargo test --quiet -p tfplugin --test hostile_clients -- --nocapture \
    | grep -o 'REL|.*' | tee -a "$rows" || status=1
fi

# 4. Concurrency on Tier-1 stacks with the real pg backend (full run only).
if [ "$quick" = 0 ]; then
  echo "=== 4. concurrency on Tier-1 (pg backend)" >&2
  python3 reliability/pg_soak.py "$tg" --rounds 20 --ns 2,4,8 --new 8 --cap 180 | tee -a "$rows" || status=1
fi

# 5. Provider faults (full run only): 100-host Authentik apply through a
# proxy injecting 5xx, resets and timeouts at a fixed rate.
if [ "$quick" = 0 ]; then
  echo "=== 5. provider faults" >&2
  cargo build --quiet -p terraform-provider-authentik-forward-auth -p authentik-emulator
  bins=$(mktemp -d); cp "$target/debug/authentik-emulator" "$target/debug/terraform-provider-authentik-forward-auth" "$bins/"
  python3 reliability/provider_faults.py "$bins" --hosts 100 --every 10 | tee -a "$rows" || status=1
  rm -rf "$bins"
fi

# 5b. Provider faults, Forgejo: a forgejo-retention run over 10,000 versions
# (400 in the quick run) in a real registry behind the same proxy; the full
# run adds faults on deletions only with no retries, so runs stop half-way
# and the next one must finish the job.
echo "=== 5b. provider faults: Forgejo retention" >&2
if [ "$quick" = 1 ]; then
  python3 reliability/retention_faults.py "$fbins" --quick | tee -a "$rows" || status=1
else
  wait "$retention" || status=1
  tee -a "$rows" < "$rows5b"
  python3 reliability/retention_faults.py "$fbins" --versions 1000 --images 20 --every 60 --faults deletions --retries 0 --applies 3 --cap 180 | tee -a "$rows" || status=1
fi

elapsed=$(( $(date +%s) - started ))
machine="$(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), $(terraform version 2>/dev/null | sed -n 1p)"
table=$(
  echo "Reliability run ($([ "$quick" = 1 ] && echo quick || echo full)) on $(date -u +%Y-%m-%d\ %H:%M) UTC — $machine — ${elapsed} s"
  echo
  echo "| campaign | figure | value | notes | result |"
  echo "|---|---|---|---|---|"
  grep '^REL|' "$rows" | sed 's/^REL|//; s/|/ | /g; s/^/| /; s/$/ |/'
)
echo
echo "$table"
if [ "$quick" = 0 ]; then
  python3 - "$table" <<'PY'
import sys, re
path = "reliability/README.md"
text = open(path).read()
start, end = "<!-- last-run -->", "<!-- /last-run -->"
block = f"{start}\n{sys.argv[1]}\n{end}"
text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
open(path, "w").write(text)
PY
fi
exit "$status"
