#!/usr/bin/env bash
# Builds the three providers (release) and lays them out as a Terraform /
# OpenTofu filesystem mirror:
#   <mirror>/registry.terraform.io/homelab/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>
# then writes <mirror>/cli.tfrc (the CLI config to use: TF_CLI_CONFIG_FILE or
# TOFU_CLI_CONFIG_FILE) and <mirror>/lock.hcl (the dependency lock entries with
# the hashes for the platform built here), and prints both.
#
# Usage: scripts/providers-install.sh [MIRROR_DIR]   (default: ./.providers)
#        PROVIDERS_BIN_DIR=DIR uses prebuilt binaries instead of building.
# Sources must be fully qualified (registry.terraform.io/homelab/<type>) so that
# OpenTofu, whose default registry differs, resolves the same addresses.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
mirror=$(realpath -m "${1:-$root/.providers}")
types=(authentik-forward-auth goldmane-edges forgejo-retention)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
os_arch="$(uname -s | tr '[:upper:]' '[:lower:]')_$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')"
engine="${TG_ENGINE:-terraform}"

if [ -n "${PROVIDERS_BIN_DIR:-}" ]; then
  bin_dir="$PROVIDERS_BIN_DIR"   # prebuilt binaries (the demo's test uses the debug ones)
else
  echo "[providers] building release binaries (version $version, $os_arch)"
  pkgs=(); for t in "${types[@]}"; do pkgs+=(-p "terraform-provider-$t"); done
  cargo build --release --quiet "${pkgs[@]}"
  bin_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
fi

for t in "${types[@]}"; do
  dir="$mirror/registry.terraform.io/homelab/$t/$version/$os_arch"
  mkdir -p "$dir"
  install -m 0755 "$bin_dir/terraform-provider-$t" "$dir/terraform-provider-${t}_v$version"
  echo "[providers] $dir/terraform-provider-${t}_v$version"
done

cat > "$mirror/cli.tfrc" <<CFG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/homelab/*"]
  }
  direct {
    exclude = ["registry.terraform.io/homelab/*"]
  }
}
CFG

# Lock entries: let the engine hash the mirror for this platform.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
{
  echo 'terraform {'; echo '  required_providers {'
  for t in "${types[@]}"; do echo "    $t = { source = \"registry.terraform.io/homelab/$t\", version = \"$version\" }"; done
  echo '  }'; echo '}'
} > "$work/main.tf"
(cd "$work" && TF_CLI_CONFIG_FILE="$mirror/cli.tfrc" TOFU_CLI_CONFIG_FILE="$mirror/cli.tfrc" \
  "$engine" providers lock -fs-mirror="$mirror" -platform="$os_arch" \
  "${types[@]/#/registry.terraform.io/homelab/}" >/dev/null)
cp "$work/.terraform.lock.hcl" "$mirror/lock.hcl"

echo
echo "[providers] CLI config ($mirror/cli.tfrc): export TF_CLI_CONFIG_FILE=$mirror/cli.tfrc (OpenTofu: TOFU_CLI_CONFIG_FILE)"
cat "$mirror/cli.tfrc"
echo "[providers] lock entries for $os_arch ($mirror/lock.hcl):"
cat "$mirror/lock.hcl"
