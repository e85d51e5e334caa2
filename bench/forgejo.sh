#!/usr/bin/env bash
# Plan of a retention policy over 10,000 versions / 500 images against the
# Forgejo package-API emulator: API calls made vs the minimum (list pages +
# one manifest fetch per tagged image + the permission probe) and wall time;
# manifests are fetched 8 at a time (the default).
# Usage: bench/forgejo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release --quiet -p terraform-provider-forgejo-retention --example retention_bench
