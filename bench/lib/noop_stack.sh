# Sourced by the benches that time tg against terraform on one no-op stack:
# one resource of a real provider process (the SDK's bench provider) with
# its state in its own schema of the pg backend, as every Tier-1 stack has.
# bench_mirror DIR PROVIDER: a filesystem mirror in DIR/mirror holding the
#   bench provider binary PROVIDER as homelab/bench 0.0.1, and DIR/cli.tfrc
#   pointing terraform at it (not dev_overrides: init must run for the pg
#   backend); export TF_CLI_CONFIG_FILE=DIR/cli.tfrc to use it.
# noop_stack DIR: DIR/main.tf of that stack (schema "noop").
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
