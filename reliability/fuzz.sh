#!/usr/bin/env bash
# Campaign 2: libFuzzer (cargo fuzz) on the parsers fed by external input:
# sops_file (sops-rs file parser, data key, MAC check), cty_msgpack
# (tfplugin's msgpack/cty decoder), tg_toml (.tg.toml and its classify
# pattern loader), classify (engine output readers), registry_manifest
# (forgejo-retention's /v2 manifest and index reader). Each target runs a fixed
# number of executions (or its time cap, whichever comes first) from the seed
# corpus in testdata/fuzz/<target>/; new inputs it finds stay in
# fuzz/corpus/ (git-ignored). Prints REL| rows; a crash is saved under
# fuzz/artifacts/<target>/ and counted.
#
# Toolchain: only the pinned stable Rust exists here. `cargo fuzz` on stable
# works with `--sanitizer none` (no -Zsanitizer, which is nightly-only); the
# coverage instrumentation it adds (-Cpasses=sancov-module, -Cllvm-args=
# -sanitizer-coverage-*) are stable codegen flags, so no RUSTC_BOOTSTRAP.
# Without AddressSanitizer, memory errors show only where Rust checks them
# (bounds; integer overflow, as the targets are built with debug
# assertions, `-a`): the
# workspace denies unsafe code, so that is the surface.
# Usage: reliability/fuzz.sh RUNS SECONDS_PER_TARGET
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"
cap="${2:-120}"
CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
cd fuzz
targets=(sops_file cty_msgpack tg_toml classify registry_manifest)
cargo fuzz build -s none -O -a >&2 || { for t in "${targets[@]}"; do echo "REL|2 fuzz $t|executions / crashes|-|build failed|FAIL"; done; exit 1; }
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log=$(mktemp)
  before=$(find "artifacts/$t" -type f | wc -l)
  set +e
  cargo fuzz run -s none -O -a "$t" "corpus/$t" "../testdata/fuzz/$t" -- \
    -runs="$runs" -max_total_time="$cap" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 > "$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  after=$(find "artifacts/$t" -type f | wc -l)
  crashes=$(( after - before ))
  if [ "$rc" != 0 ] && [ "$crashes" = 0 ]; then crashes=1; fi
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$cap")
  result=ok
  if [ "$crashes" != 0 ]; then
    result=FAIL; status=1
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -5 >&2
  fi
  echo "REL|2 fuzz $t|executions / crashes|${execs:-0} / $crashes|cap ${runs} runs or ${cap} s; corpus $(ls "corpus/$t" | wc -l) inputs|$result"
  rm -f "$log"
done
exit "$status"
