# Sourced by the benches that time tg against terraform on one no-op stack:
# one resource of a real provider process (the SDK's bench provider) with
# its state in its own schema of the pg backend, as every Tier-1 stack has.
# bench_mirror DIR PROVIDER: a filesystem mirror in DIR/mirror holding the
#   bench provider binary PROVIDER as homelab/bench 0.0.1, and DIR/cli.tfrc
#   pointing terraform at it (not dev_overrides: init must run for the pg
#   backend); export TF_CLI_CONFIG_FILE=DIR/cli.tfrc to use it.
# noop_stack DIR: DIR/main.tf of that stack (schema "noop").
# build_noop_bench: builds tg and the bench provider (release) and sets
#   $target (cargo's target folder) and $tg.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
bench_mirror() {
  local mirror="$1/mirror/registry.terraform.io/homelab/bench/0.0.1/$(os_arch)"
  mkdir -p "$mirror"
  cp "$2" "$mirror/terraform-provider-bench_v0.0.1"
  printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$1/mirror" > "$1/cli.tfrc"
}
noop_stack() {
  mkdir -p "$1"
  cat > "$1/main.tf" <<'HCL'
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
}
build_noop_bench() {
  # Two builds: a target filter such as --example limits the whole command
  # to that target, so `-p tg-wrapper` alongside it would not build `tg`.
  cargo build --release --quiet -p tg-wrapper --bin tg
  cargo build --release --quiet -p tfplugin --example bench_provider
  target="$(target_dir)"
  tg="$target/release/tg"
}
