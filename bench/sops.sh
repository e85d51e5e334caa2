#!/usr/bin/env bash
# sops-rs vs the real `sops` binary on a ~20 MB terraform state (binary mode,
# age recipient): encrypt + decrypt, interleaved, median of R rounds.
# Usage: bench/sops.sh [rounds]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
rounds="${1:-5}"
cargo build --release --quiet -p sops-rs --example sops_rs
ours="$(target_dir)/release/examples/sops_rs"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
age-keygen -o "$work/key.txt" 2>"$work/pub"
recipient=$(sed 's/Public key: //' "$work/pub")
python3 - "$work/terraform.tfstate" <<'PY'
import json, sys, random
random.seed(7)
res = [{"mode": "managed", "type": "kubernetes_config_map", "name": f"cm{i}", "provider": "provider[\"registry.terraform.io/hashicorp/kubernetes\"]",
        "instances": [{"schema_version": 0, "attributes": {"id": f"ns/cm{i}", "data": {f"k{j}": "".join(random.choice("abcdefghij") for _ in range(40)) for j in range(20)}}}]}
       for i in range(12000)]
json.dump({"version": 4, "terraform_version": "1.11.4", "serial": 42, "lineage": "x", "outputs": {}, "resources": res}, open(sys.argv[1], "w"), indent=2)
PY
export SOPS_AGE_KEY_FILE="$work/key.txt" SOPS_DISABLE_VERSION_CHECK=1
python3 - "$ours" "$recipient" "$work" "$rounds" <<'PY'
import subprocess, sys, time, statistics, os
ours, rcpt, work, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src = f"{work}/terraform.tfstate"
size = os.path.getsize(src) / 1e6
def timed(cmd, **kw):
    t = time.perf_counter(); subprocess.run(cmd, check=True, **kw); return time.perf_counter() - t
o, s = [], []
for _ in range(rounds):
    a = timed([ours, "encrypt", rcpt, src, f"{work}/o.enc"]) + timed([ours, "decrypt", f"{work}/o.enc", f"{work}/o.dec"])
    with open(f"{work}/s.enc", "w") as out:
        b = timed(["sops", "encrypt", "--age", rcpt, "--input-type", "binary", "--output-type", "binary", src], stdout=out)
    with open(f"{work}/s.dec", "w") as out:
        b += timed(["sops", "decrypt", "--input-type", "binary", "--output-type", "binary", f"{work}/s.enc"], stdout=out)
    assert open(f"{work}/o.dec", "rb").read() == open(src, "rb").read() == open(f"{work}/s.dec", "rb").read()
    o.append(a); s.append(b)
mo, ms = statistics.median(o), statistics.median(s)
print(f"encrypt + decrypt of a {size:.1f} MB tfstate: sops-rs {mo:.3f} s, sops {ms:.3f} s → sops-rs is {ms/mo:.1f}x faster")
print(f"BENCH|sops|encrypt+decrypt {size:.0f} MB tfstate (s)|{mo:.3f}|{ms:.3f}|{mo/ms:.3f}|<= 0.2x (>= 5x faster)")
PY
