#!/usr/bin/env bash
# Runs every benchmark script in bench/ and prints one table of the figures
# they report. Each script prints, beside its own output, lines of the form
#   BENCH|<benchmark>|<what>|<ours>|<baseline>|<ratio>|<target>
# measured side by side in the same run. Usage: bench/run.sh [name ...]
set -euo pipefail
cd "$(dirname "$0")"
scripts=()
if [ $# -gt 0 ]; then for n in "$@"; do scripts+=("./$n.sh"); done
else for s in ./*.sh; do [ "$s" = ./run.sh ] || scripts+=("$s"); done; fi
# A TF_CLI_CONFIG_FILE naming a missing file (some machines export
# ~/.terraformrc) would add a warning to the `terraform version` below.
[ -z "${TF_CLI_CONFIG_FILE:-}" ] || [ -e "$TF_CLI_CONFIG_FILE" ] || unset TF_CLI_CONFIG_FILE
rows=$(mktemp); trap 'rm -f "$rows"' EXIT
for s in "${scripts[@]}"; do
  echo "=== $s" >&2
  if ! "$s" 2>&1 | tee -a /dev/stderr | grep '^BENCH|' >> "$rows"; then
    echo "BENCH|$(basename "$s" .sh)|script failed (see output above)|-|-|-|-" >> "$rows"
  fi
done
echo
echo "Benchmarks on $(date -u +%Y-%m-%d) — $(nproc) CPU, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sm), $(terraform version | head -1)"
echo
echo "| benchmark | measured | ours | baseline | ratio | target |"
echo "|---|---|---|---|---|---|"
sed 's/^BENCH|//; s/|/ | /g; s/^/| /; s/$/ |/' "$rows"
