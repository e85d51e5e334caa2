#!/usr/bin/env bash
# `terraform plan` and `apply` of N resources of our SDK's bench provider
# (release build, started by terraform over gRPC with AutoMTLS) vs the same
# count of the built-in `terraform_data`, interleaved, medians of R rounds:
# plan with everything to create, apply, and the re-plan of existing
# resources (refresh) that CI and the nightly drift run do. Also the plan of
# ONE resource each way: its difference is the fixed cost of an external
# provider (Terraform starts the plugin 3 times per plan, generating a P-521
# client certificate for AutoMTLS each time), which bounds the best ratio
# any out-of-process provider can reach at this count. Last, one plan each
# way with CPU attributed: Terraform's own CPU vs the provider's (through a
# wrapper that records the plugin's rusage), to show who pays per RPC.
# Usage: bench/plan1000.sh [count] [rounds]   (defaults 1000, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh
count="${1:-1000}"; rounds="${2:-3}"
cargo build --release --quiet -p tfplugin --example bench_provider
target=$(target_dir)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/ours" "$work/builtin" "$work/ours1" "$work/builtin1"
cp "$target/release/examples/bench_provider" "$work/bin/terraform-provider-bench"
cat > "$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "registry.terraform.io/homelab/bench" = "$work/bin"
  }
  direct {}
}
CFG
cat > "$work/ours/main.tf" <<HCL
terraform {
  required_providers {
    bench = { source = "registry.terraform.io/homelab/bench" }
  }
}
resource "bench_item" "x" {
  count = $count
  input = "v\${count.index}"
}
HCL
cat > "$work/builtin/main.tf" <<HCL
resource "terraform_data" "x" {
  count = $count
  input = "v\${count.index}"
}
HCL
sed 's/count = [0-9]*/count = 1/' "$work/ours/main.tf" > "$work/ours1/main.tf"
sed 's/count = [0-9]*/count = 1/' "$work/builtin/main.tf" > "$work/builtin1/main.tf"
export TF_CLI_CONFIG_FILE="$work/cli.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
python3 - "$work" "$rounds" "$count" <<'PY'
import subprocess, sys, time, statistics, os
work, rounds, count = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def run(d, *args):
    t = time.perf_counter()
    r = subprocess.run(["terraform", *args], cwd=f"{work}/{d}", capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"terraform {' '.join(args)} in {d} failed:\n{r.stdout}\n{r.stderr}")
    return time.perf_counter() - t
res = {d: {"plan": [], "apply": [], "replan": []} for d in ("ours", "builtin")}
one = {"ours1": [], "builtin1": []}
for i in range(rounds):
    for d in one:
        one[d].append(run(d, "plan", "-input=false", "-no-color"))
    for d in ("builtin", "ours"):
        for f in ("terraform.tfstate", "terraform.tfstate.backup"):
            try: os.remove(f"{work}/{d}/{f}")
            except FileNotFoundError: pass
        res[d]["plan"].append(run(d, "plan", "-input=false", "-no-color", "-out=p"))
        res[d]["apply"].append(run(d, "apply", "-input=false", "-no-color", "p"))
        # The plan CI and drift runs do: every resource exists and is refreshed.
        res[d]["replan"].append(run(d, "plan", "-input=false", "-no-color"))
names = {"plan": "plan (all to create)", "apply": "apply (create)", "replan": "plan (existing, refresh)"}
for step, target in (("replan", "<= 1.05x"), ("plan", "<= 1.05x"), ("apply", "<= 1.0x")):
    o = statistics.median(res["ours"][step]); b = statistics.median(res["builtin"][step])
    print(f"{names[step]} of {count}: ours {o:.2f} s, terraform_data {b:.2f} s, ratio {o/b:.3f}")
    print(f"BENCH|plan1000|terraform {names[step]}, {count} resources (s)|{o:.2f}|{b:.2f}|{o/b:.3f}|{target}")
fixed = statistics.median(one["ours1"]) - statistics.median(one["builtin1"])
b = statistics.median(res["builtin"]["plan"])
print(f"fixed cost of an external provider (plan of 1 resource, ours - terraform_data): {fixed*1000:.0f} ms")
print(f"  => even a provider with free RPCs cannot plan {count} resources faster than {(b + fixed)/b:.3f}x")
print(f"BENCH|plan1000|fixed cost per plan: plugin starts + AutoMTLS (ms)|{fixed*1000:.0f}|0|-|floor {(b + fixed)/b:.3f}x at {count}")

# CPU attribution (untimed): the plugin runs under a wrapper that writes its
# rusage; Terraform's own CPU = all descendants' CPU minus the plugin's
# and the wrapper's.
import resource, glob
plugin = f"{work}/bin/terraform-provider-bench"
os.rename(plugin, plugin + ".real")
with open(plugin, "w") as w:
    w.write(f"""#!/usr/bin/env python3
import os, resource, subprocess, sys
subprocess.run([{plugin + '.real'!r}, *sys.argv[1:]])
c = resource.getrusage(resource.RUSAGE_CHILDREN)
s = resource.getrusage(resource.RUSAGE_SELF)
open(f"{work}/cpu.%d" % os.getpid(), "w").write(f"{{c.ru_utime + c.ru_stime}} {{s.ru_utime + s.ru_stime}}")
""")
os.chmod(plugin, 0o755)
def cpu(d):
    for f in ("terraform.tfstate", "terraform.tfstate.backup"):
        try: os.remove(f"{work}/{d}/{f}")
        except FileNotFoundError: pass
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run(d, "plan", "-input=false", "-no-color")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
for f in glob.glob(f"{work}/cpu.*"): os.remove(f)
tf_builtin = cpu("builtin")
total = cpu("ours")
pairs = [open(f).read().split() for f in glob.glob(f"{work}/cpu.*")]
prov = sum(float(p) for p, _ in pairs)
wrapper = sum(float(w) for _, w in pairs)
tf_ours = total - prov - wrapper
print(f"CPU of a plan of {count} to create: terraform_data: Terraform {tf_builtin*1000:.0f} ms; "
      f"ours: Terraform {tf_ours*1000:.0f} ms + provider {prov*1000:.0f} ms")
print(f"BENCH|plan1000|Terraform's own CPU, plan of {count}: with our plugin vs terraform_data (ms)|{tf_ours*1000:.0f}|{tf_builtin*1000:.0f}|{tf_ours/tf_builtin:.2f}|(Terraform's gRPC client side)")
print(f"BENCH|plan1000|our provider's CPU in that plan (ms)|{prov*1000:.0f}|-|-|-")
PY
