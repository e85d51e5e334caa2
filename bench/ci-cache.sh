#!/usr/bin/env bash
# The first `tg ci apply` of 30 stacks on a fresh clone (as in a new CI pod):
# every stack needs the repo's three providers and has its committed lock
# file. The providers come as release zips from a filesystem mirror in the
# packed layout, standing in for registry downloads (no network here): each
# install unpacks a zip, as a registry install does after downloading it.
# (An unpacked-layout mirror is linked, not copied, so a cache cannot help.)
# Side by side in one run: tg's shared provider cache (the default,
# <repo>/.tg/plugin-cache) vs no cache (TG_PLUGIN_CACHE_DIR=off), each on
# its own fresh copy of the repo. Also reported: the bytes the stacks'
# `.terraform/providers` hold (with the cache they are links). Each stack
# keeps its state in its own schema through the pg backend (tg refuses any
# other place for a Tier-1 stack), one database per copy of the repo.
# Usage: bench/ci-cache.sh [stacks]   (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
n="${1:-30}"
types=(authentik-forward-auth goldmane-edges forgejo-retention)
pkgs=(-p tg-wrapper); for t in "${types[@]}"; do pkgs+=(-p "terraform-provider-$t"); done
cargo build --release --quiet "${pkgs[@]}"
target="$(target_dir)/release"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
work=$(mktemp -d)
. bench/lib/pg.sh
trap 'pg_stop; rm -rf "$work"' EXIT
pg_start "$work/pg" state_cached state_plain
PROVIDERS_BIN_DIR="$target" ./scripts/providers-install.sh "$work/unpacked" >/dev/null
os_arch="$(os_arch)"
for t in "${types[@]}"; do
  dir="$work/mirror/registry.terraform.io/homelab/$t"; mkdir -p "$dir"
  python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[2], sys.argv[3])' "$dir/terraform-provider-${t}_${version}_${os_arch}.zip" \
    "$work/unpacked/registry.terraform.io/homelab/$t/$version/$os_arch/terraform-provider-${t}_v$version" \
    "terraform-provider-${t}_v$version"
done
printf 'provider_installation {\n  filesystem_mirror {\n    path = "%s"\n  }\n}\n' "$work/mirror" > "$work/cli.tfrc"

make_repo() {
  local repo="$1"
  mkdir -p "$repo/stacks"
  echo 'locals { tier0_stacks = [] }' > "$repo/terragrunt.hcl"
  for i in $(seq -w 1 "$n"); do
    local d="$repo/stacks/s$i"; mkdir -p "$d"
    {
      echo 'terraform {'; echo '  required_providers {'
      for t in "${types[@]}"; do echo "    $t = { source = \"registry.terraform.io/homelab/$t\", version = \"$version\" }"; done
      echo '  }'; echo "  backend \"pg\" {"; echo "    schema_name = \"s$i\""; echo '  }'; echo '}'
      echo "resource \"terraform_data\" \"s\" { input = \"s$i\" }"
    } > "$d/main.tf"
    cp "$work/unpacked/lock.hcl" "$d/.terraform.lock.hcl"
  done
}
make_repo "$work/cached"; make_repo "$work/plain"
# Both runs read the mirror from the page cache, not the first one from disk.
find "$work/mirror" -type f -exec cat {} + > /dev/null

export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export TG_ENGINE=terraform PG_PLAIN="$(pg_url state_plain)" PG_CACHED="$(pg_url state_cached)"
unset TF_PLUGIN_CACHE_DIR TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE TG_PLUGIN_CACHE_DIR
python3 - "$target/tg" "$n" "$work" <<'PY'
import os, subprocess, sys, time
tg, n, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def first_apply(repo, env):
    t = time.perf_counter()
    r = subprocess.run([tg, "ci", "apply", "--all"], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, **env})
    took = time.perf_counter() - t
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count(" OK ") >= n, r.stdout
    return took
def provider_bytes(repo):
    total = 0
    for root, dirs, files in os.walk(os.path.join(repo, "stacks")):
        for f in files:
            p = os.path.join(root, f)
            if "/.terraform/providers/" in p:
                total += os.lstat(p).st_size
    return total
plain = first_apply(f"{work}/plain", {"TG_PLUGIN_CACHE_DIR": "off", "PG_CONN_STR": os.environ["PG_PLAIN"]})
cached = first_apply(f"{work}/cached", {"PG_CONN_STR": os.environ["PG_CACHED"]})
cache_dir = f"{work}/cached/.tg/plugin-cache"
assert os.path.isdir(cache_dir) and os.listdir(cache_dir), "the cache stayed empty"
pb, cb = provider_bytes(f"{work}/plain"), provider_bytes(f"{work}/cached")
print(f"{n} stacks x 3 providers, first tg ci apply: no cache {plain:.1f} s, shared cache {cached:.1f} s, ratio {cached/plain:.2f}")
print(f"provider bytes under the stacks' .terraform: no cache {pb/1e6:.0f} MB, shared cache {cb/1e6:.1f} MB (+ the cache itself)")
print(f"BENCH|ci-cache|first tg ci apply, {n} stacks x 3 providers: shared cache vs none (s)|{cached:.2f}|{plain:.2f}|{cached/plain:.3f}|< 1x")
print(f"BENCH|ci-cache|provider bytes in the stacks' .terraform: shared cache vs none (MB)|{cb/1e6:.1f}|{pb/1e6:.0f}|{cb/max(pb,1):.3f}|-")
PY
