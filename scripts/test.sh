#!/usr/bin/env bash
# Installs what the tests need and runs every check: formatting, clippy with
# warnings as errors, and the whole test suite (real terraform, PostgreSQL,
# sops, age, docker-registry and OpenBao are started by the tests themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
# Never read a user's ~/.terraformrc: tests write their own CLI config. Set
# before install-deps, whose `terraform version` would otherwise warn about a
# TF_CLI_CONFIG_FILE that names a missing file.
export TF_CLI_CONFIG_FILE=/dev/null
./scripts/install-deps.sh
# Free disk up front: a full disk fails the build far from its cause.
df -h . "${TMPDIR:-/tmp}" || true
export CARGO_TERM_COLOR=never
# CI builds once: incremental caches would only take disk (2 GB here).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The demo test runs every binary of the workspace (tg, providers, emulators);
# `cargo test` alone builds a binary only for its own package's tests.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-2}"
# Reliability campaigns, quick mode (a few kills of a Tier-0 apply at its
# riskiest steps; the full run is reliability/run.sh, see its README).
./reliability/run.sh --quick
